import { Button, Card, Checkbox, DatePicker, Descriptions, Drawer, Input, Select, Space, Table, Typography } from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useEffect, useState } from 'react';
import { get, type Me, post, type Preview, type Subscription } from '../api';
import { ErrorBox, useLoad } from '../common';
import { formatTime, useLang, useT, waited } from '../i18n';
import { useDepartments } from './Catalog';
import { PreviewView } from './Preview';

/** A steward's inbox: pending requests for the department's datasets, each decided with a preview of what it grants. */
export function ApprovalsPage({ me }: { me: Me }) {
  const t = useT();
  const lang = useLang();
  const departments = useDepartments();
  const pending = useLoad(() => get<{ items: Subscription[] }>('/v1/subscriptions?status=pending&limit=500').then((r) => r.items.filter((s) => s.consumer !== me.department.id)), []);
  const [open, setOpen] = useState<Subscription | null>(null);
  const deptName = (id: string): string => {
    const d = departments.data?.find((x) => x.id === id);
    return d ? (lang === 'zh' ? d.nameZh : d.nameEn) : id;
  };
  return (
    <Card title={<Typography.Title level={4} style={{ margin: 0 }}>{t('待审批的申请', 'Requests awaiting your decision')}</Typography.Title>} extra={<Button onClick={pending.reload}>{t('刷新', 'Refresh')}</Button>}>
      <ErrorBox error={pending.error} />
      <Table<Subscription>
        rowKey="id"
        loading={pending.loading}
        dataSource={pending.data ?? []}
        locale={{ emptyText: t('没有待审批的申请', 'Nothing is waiting for you') }}
        pagination={false}
        columns={[
          { title: t('数据集', 'Dataset'), dataIndex: 'dataset', render: (d: string) => <code>{d}</code> },
          { title: t('申请部门', 'Requester'), dataIndex: 'consumer', render: (c: string) => deptName(c) },
          { title: t('用途', 'Purpose'), dataIndex: 'purpose' },
          { title: t('法律依据', 'Legal basis'), dataIndex: 'legalBasis', render: (l: string | null) => l ?? '—' },
          { title: t('申请的信息项', 'Fields'), dataIndex: 'requestedFields', render: (f: string[]) => f.join('、') },
          { title: t('已等待', 'Waiting'), dataIndex: 'createdAt', render: (c: string) => <span title={formatTime(c, lang)}>{waited(c, lang)}</span> },
          { title: '', render: (_, s) => <Button type="primary" onClick={() => setOpen(s)} data-testid={`decide-${s.id}`}>{t('审批', 'Decide')}</Button> },
        ]}
      />
      {open && <DecisionDrawer sub={open} requester={deptName(open.consumer)} onClose={(changed) => { setOpen(null); if (changed) pending.reload(); }} />}
    </Card>
  );
}

function DecisionDrawer({ sub, requester, onClose }: { sub: Subscription; requester: string; onClose: (changed: boolean) => void }) {
  const t = useT();
  const lang = useLang();
  const [fields, setFields] = useState<string[]>(sub.requestedFields);
  const [masking, setMasking] = useState<Record<string, string>>({});
  const [expiresAt, setExpiresAt] = useState<Dayjs | null>(null);
  const [reason, setReason] = useState('');
  const [preview, setPreview] = useState<Preview | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const decision = (): Record<string, unknown> => {
    const m = Object.fromEntries(Object.entries(masking).filter(([f, v]) => v && fields.includes(f)));
    return { fields, ...(Object.keys(m).length ? { masking: m } : {}), ...(expiresAt ? { expiresAt: expiresAt.endOf('day').toISOString() } : {}) };
  };
  useEffect(() => {
    if (fields.length === 0) return setPreview(null);
    let live = true;
    const { expiresAt: _omit, ...body } = decision();
    void _omit;
    post<Preview>(`/v1/subscriptions/${sub.id}/preview`, body).then((p) => live && (setPreview(p), setError(null)), (e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [fields.join(','), JSON.stringify(masking)]);
  const act = async (what: 'approve' | 'reject'): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await post(`/v1/subscriptions/${sub.id}/${what}`, what === 'approve' ? decision() : { reason });
      onClose(true);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Drawer open width={860} title={`${t('审批申请', 'Decide on request')} ${sub.id}`} onClose={() => onClose(false)}>
      <Descriptions size="small" bordered column={1} style={{ marginBottom: 16 }}>
        <Descriptions.Item label={t('数据集', 'Dataset')}>{sub.dataset}</Descriptions.Item>
        <Descriptions.Item label={t('申请部门', 'Requester')}>{requester}</Descriptions.Item>
        <Descriptions.Item label={t('用途', 'Purpose')}>{sub.purpose}</Descriptions.Item>
        <Descriptions.Item label={t('法律依据', 'Legal basis')}>{sub.legalBasis ?? '—'}</Descriptions.Item>
        <Descriptions.Item label={t('申请期限', 'Requested until')}>{formatTime(sub.requestedUntil, lang)}</Descriptions.Item>
        <Descriptions.Item label={t('已等待', 'Waiting')}>{waited(sub.createdAt, lang)}</Descriptions.Item>
      </Descriptions>
      <ErrorBox error={error} />
      <Typography.Title level={5}>{t('批准的信息项与脱敏', 'Fields to grant and masks')}</Typography.Title>
      <Table
        size="small"
        rowKey="name"
        pagination={false}
        dataSource={sub.requestedFields.map((name) => ({ name }))}
        columns={[
          { title: t('授予', 'Grant'), render: (_, f) => <Checkbox aria-label={`grant ${f.name}`} checked={fields.includes(f.name)} onChange={(e) => setFields((fs) => (e.target.checked ? sub.requestedFields.filter((x) => fs.includes(x) || x === f.name) : fs.filter((x) => x !== f.name)))} /> },
          { title: t('信息项', 'Field'), dataIndex: 'name', render: (n: string) => <code>{n}</code> },
          {
            title: t('更严格的脱敏', 'Tighter mask'),
            render: (_, f) => (
              <Select aria-label={`mask ${f.name}`} style={{ width: 160 }} value={masking[f.name] ?? ''} onChange={(v) => setMasking((m) => ({ ...m, [f.name]: v }))}
                options={[{ value: '', label: t('按策略', 'As the policy says') }, { value: 'partial', label: t('部分遮盖', 'Partial') }, { value: 'hash', label: t('哈希', 'Keyed hash') }]} />
            ),
          },
        ]}
      />
      <Space style={{ margin: '12px 0' }}>
        {t('提前到期：', 'Earlier expiry:')}
        <DatePicker value={expiresAt} onChange={setExpiresAt} disabledDate={(x) => x.isBefore(dayjs()) || x.isAfter(dayjs(sub.requestedUntil))} />
      </Space>
      <Typography.Title level={5}>{t('使用方将收到（预览）', 'The consumer would receive (preview)')}</Typography.Title>
      {preview && <PreviewView preview={preview} />}
      <Space direction="vertical" style={{ width: '100%', marginTop: 16 }}>
        <Button type="primary" disabled={fields.length === 0} loading={busy} onClick={() => void act('approve')}>{t('批准', 'Approve')}</Button>
        <Input.TextArea aria-label={t('驳回理由', 'Reason for rejecting')} placeholder={t('驳回理由（必填）', 'Reason for rejecting (required)')} value={reason} onChange={(e) => setReason(e.target.value)} autoSize />
        <Button danger disabled={!reason.trim()} loading={busy} onClick={() => void act('reject')}>{t('驳回', 'Reject')}</Button>
      </Space>
    </Drawer>
  );
}
