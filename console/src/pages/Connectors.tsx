import { Button, Card, Table, Tag, Typography } from 'antd';
import { useState } from 'react';
import { get, put } from '../api';
import { ErrorBox, useLoad } from '../common';
import { formatTime, useLang, useT } from '../i18n';

interface ConnectorStatus {
  name: string;
  type: string;
  connector: { state: string };
  records: { in: number; out: number; deadLettered: number };
  lag: number | null;
  lastError: { message: string; at: string } | null;
}

export function ConnectorsPage() {
  const t = useT();
  const lang = useLang();
  const list = useLoad(() => get<Record<string, { status: ConnectorStatus }>>('/v1/connectors?expand=status').then((r) => Object.values(r).map((c) => c.status)), []);
  const [error, setError] = useState<unknown>(null);
  const act = async (name: string, what: 'pause' | 'resume'): Promise<void> => {
    try {
      await put(`/v1/connectors/${encodeURIComponent(name)}/${what}`);
      list.reload();
    } catch (e) {
      setError(e);
    }
  };
  const color: Record<string, string> = { RUNNING: 'green', PAUSED: 'orange', FAILED: 'red', UNASSIGNED: 'default' };
  return (
    <Card title={<Typography.Title level={4} style={{ margin: 0 }}>{t('连接器', 'Connectors')}</Typography.Title>} extra={<Button onClick={list.reload}>{t('刷新', 'Refresh')}</Button>}>
      <ErrorBox error={error ?? list.error} onClose={() => setError(null)} />
      <Table<ConnectorStatus>
        rowKey="name"
        loading={list.loading}
        dataSource={list.data ?? []}
        pagination={false}
        locale={{ emptyText: t('没有连接器', 'No connectors') }}
        columns={[
          { title: t('名称', 'Name'), dataIndex: 'name', render: (n: string) => <code>{n}</code> },
          { title: t('类型', 'Type'), dataIndex: 'type' },
          { title: t('状态', 'State'), render: (_, c) => <Tag color={color[c.connector.state]}>{c.connector.state}</Tag> },
          { title: t('读入', 'In'), render: (_, c) => c.records.in },
          { title: t('写出', 'Out'), render: (_, c) => c.records.out },
          { title: t('死信', 'Dead letters'), render: (_, c) => c.records.deadLettered },
          { title: t('滞后', 'Lag'), render: (_, c) => c.lag ?? '—' },
          { title: t('最近错误', 'Last error'), render: (_, c) => (c.lastError ? <span>{c.lastError.message} <Typography.Text type="secondary">{formatTime(c.lastError.at, lang)}</Typography.Text></span> : '—') },
          {
            title: '',
            render: (_, c) =>
              c.connector.state === 'PAUSED' ? <Button size="small" onClick={() => void act(c.name, 'resume')}>{t('恢复', 'Resume')}</Button> : <Button size="small" onClick={() => void act(c.name, 'pause')}>{t('暂停', 'Pause')}</Button>,
          },
        ]}
      />
    </Card>
  );
}
