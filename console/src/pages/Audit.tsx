import { Alert, Button, Card, DatePicker, Input, Space, Table, Tag, Typography } from 'antd';
import type { Dayjs } from 'dayjs';
import { useState } from 'react';
import { get, qs } from '../api';
import { ErrorBox, useLoad } from '../common';
import { formatTime, useLang, useT } from '../i18n';

interface AuditEntry {
  seq: number | string;
  at: string;
  actor: { department: string; keyId: string | null; role: string | null };
  action: string;
  target: string | null;
  outcome: string;
  details?: unknown;
}

interface Verification {
  ok: boolean;
  checked: number;
  lastSeq: number | null;
  firstBroken?: { seq: number; reason: string };
}

export function AuditPage() {
  const t = useT();
  const lang = useLang();
  const [filters, setFilters] = useState<{ department?: string; action?: string; target?: string; from?: string; to?: string }>({});
  const list = useLoad(() => get<{ items: AuditEntry[] }>(`/v1/audit${qs({ ...filters, limit: 200, order: 'desc' })}`).then((r) => r.items), [JSON.stringify(filters)]);
  const [verification, setVerification] = useState<Verification | null>(null);
  const [verifyError, setVerifyError] = useState<unknown>(null);
  const [verifying, setVerifying] = useState(false);
  const verify = async (): Promise<void> => {
    setVerifying(true);
    setVerification(null);
    setVerifyError(null);
    try {
      setVerification(await get<Verification>('/v1/audit/verify'));
    } catch (e) {
      setVerifyError(e);
    } finally {
      setVerifying(false);
    }
  };
  const set = (k: string) => (v: string) => setFilters((f) => ({ ...f, [k]: v.trim() || undefined }));
  return (
    <Card title={<Typography.Title level={4} style={{ margin: 0 }}>{t('审计记录', 'Audit trail')}</Typography.Title>} extra={<Button type="primary" loading={verifying} onClick={() => void verify()}>{t('校验哈希链', 'Verify the chain')}</Button>}>
      {verification && (
        <Alert
          role="status"
          data-testid="verify-result"
          showIcon
          style={{ marginBottom: 16 }}
          type={verification.ok ? 'success' : 'error'}
          message={verification.ok
            ? t(`哈希链完整：已校验 ${verification.checked} 条记录，链头序号 ${verification.lastSeq ?? '—'}。`, `The chain is intact: ${verification.checked} entries checked, head at seq ${verification.lastSeq ?? '—'}.`)
            : t(`哈希链在第 ${verification.firstBroken?.seq} 条处断裂：${verification.firstBroken?.reason}`, `The chain breaks at seq ${verification.firstBroken?.seq}: ${verification.firstBroken?.reason}`)}
        />
      )}
      <ErrorBox error={verifyError} />
      <Space wrap style={{ marginBottom: 16 }} role="search">
        <Input.Search allowClear placeholder={t('操作部门', 'Actor department')} onSearch={set('department')} style={{ width: 170 }} aria-label={t('操作部门', 'Actor department')} />
        <Input.Search allowClear placeholder={t('操作，如 subscription.approve', 'Action, e.g. subscription.approve')} onSearch={set('action')} style={{ width: 250 }} aria-label={t('操作', 'Action')} />
        <Input.Search allowClear placeholder={t('对象，如 dataset:population.residents', 'Target, e.g. dataset:population.residents')} onSearch={set('target')} style={{ width: 300 }} aria-label={t('对象', 'Target')} />
        <DatePicker.RangePicker showTime onChange={(r) => setFilters((f) => ({ ...f, from: (r?.[0] as Dayjs | null)?.toISOString(), to: (r?.[1] as Dayjs | null)?.toISOString() }))} />
      </Space>
      <ErrorBox error={list.error} />
      <Table<AuditEntry>
        rowKey={(e) => String(e.seq)}
        size="small"
        loading={list.loading}
        dataSource={list.data ?? []}
        pagination={{ pageSize: 50, hideOnSinglePage: true }}
        locale={{ emptyText: t('没有符合条件的记录', 'No entries match') }}
        expandable={{ expandedRowRender: (e) => <pre style={{ margin: 0 }}>{JSON.stringify(e.details ?? {}, null, 2)}</pre> }}
        columns={[
          { title: '#', dataIndex: 'seq' },
          { title: t('时间', 'Time'), dataIndex: 'at', render: (a: string) => formatTime(a, lang) },
          { title: t('操作者', 'Actor'), render: (_, e) => `${e.actor.department}${e.actor.keyId ? `/${e.actor.keyId}` : ''}${e.actor.role ? ` (${e.actor.role})` : ''}` },
          { title: t('操作', 'Action'), dataIndex: 'action', render: (a: string) => <code>{a}</code> },
          { title: t('对象', 'Target'), dataIndex: 'target', render: (x: string | null) => x ?? '—' },
          { title: t('结果', 'Outcome'), dataIndex: 'outcome', render: (o: string) => <Tag color={o === 'success' ? 'green' : o === 'denied' ? 'orange' : 'red'}>{o}</Tag> },
        ]}
      />
    </Card>
  );
}
