import { App, Button, Card, Descriptions, Input, Space, Table, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { get, type Me, post, type Subscription } from '../api';
import { DeliveryTag, ErrorBox, StatusTag, useLoad } from '../common';
import { formatTime, useLang, useT } from '../i18n';
import { useDepartments } from './Catalog';

/** Requests and subscriptions: a consumer's own (with how to connect), or those of the steward's datasets (with revoke). */
export function SubscriptionsPage({ me, mode }: { me: Me; mode: 'requests' | 'subscriptions' }) {
  const t = useT();
  const lang = useLang();
  const { modal } = App.useApp();
  const departments = useDepartments();
  const list = useLoad(() => get<{ items: Subscription[] }>('/v1/subscriptions?limit=500').then((r) => r.items), []);
  // live: a decision or revocation made elsewhere shows up without a reload
  useEffect(() => {
    const timer = setInterval(list.reload, 3000);
    return () => clearInterval(timer);
  }, []);
  const [error, setError] = useState<unknown>(null);
  const deptName = (id: string): string => {
    const d = departments.data?.find((x) => x.id === id);
    return d ? (lang === 'zh' ? d.nameZh : d.nameEn) : id;
  };
  const consumerView = me.role === 'consumer';
  const items = (list.data ?? []).filter((s) =>
    consumerView ? s.consumer === me.department.id && (mode === 'requests' ? true : s.status !== 'pending' && s.status !== 'rejected') : me.role === 'admin' || s.consumer !== me.department.id,
  );
  const revoke = (s: Subscription): void => {
    let reason = '';
    modal.confirm({
      title: t(`撤销订阅 ${s.id}？`, `Revoke ${s.id}?`),
      content: <Input.TextArea aria-label={t('撤销理由', 'Reason')} placeholder={t('撤销理由', 'Reason')} onChange={(e) => (reason = e.target.value)} />,
      okText: t('撤销', 'Revoke'),
      okButtonProps: { danger: true },
      cancelText: t('取消', 'Cancel'),
      onOk: async () => {
        try {
          await post(`/v1/subscriptions/${s.id}/revoke`, reason.trim() ? { reason: reason.trim() } : {});
          list.reload();
        } catch (e) {
          setError(e);
        }
      },
    });
  };
  const title = consumerView ? (mode === 'requests' ? t('我的申请', 'My requests') : t('我的订阅', 'My subscriptions')) : t('本部门数据集的订阅', "Subscriptions of your department's datasets");
  return (
    <Card title={<Typography.Title level={4} style={{ margin: 0 }}>{title}</Typography.Title>}>
      <ErrorBox error={list.error ?? error} />
      <Table<Subscription>
        rowKey="id"
        loading={list.loading && !list.data}
        dataSource={items}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        locale={{ emptyText: consumerView ? t('还没有订阅；在数据目录中申请。', 'None yet: request data from the catalog.') : t('没有订阅', 'No subscriptions') }}
        expandable={consumerView && mode === 'subscriptions' ? { expandedRowRender: (s) => <HowToConnect me={me} sub={s} />, rowExpandable: (s) => s.status === 'approved' } : undefined}
        columns={[
          { title: t('编号', 'Id'), dataIndex: 'id', render: (id: string) => <code data-testid="sub-id">{id}</code> },
          { title: t('数据集', 'Dataset'), dataIndex: 'dataset' },
          ...(consumerView ? [] : [{ title: t('使用部门', 'Consumer'), dataIndex: 'consumer', render: (c: string) => deptName(c) }]),
          { title: t('状态', 'Status'), render: (_: unknown, s: Subscription) => <span data-testid={`status-${s.id}`}><StatusTag status={s.status} />{s.statusReason ? <Typography.Text type="secondary"> {s.statusReason}</Typography.Text> : null}</span> },
          {
            title: mode === 'requests' ? t('申请的信息项', 'Requested') : t('批准的信息项', 'Granted'),
            render: (_: unknown, s: Subscription) =>
              s.fields && mode !== 'requests' ? <Space wrap size={2}>{s.fields.map((f) => <span key={f.name} data-granted={f.name} data-delivery={f.delivery}><code>{f.name}</code><DeliveryTag delivery={f.delivery} /></span>)}</Space> : s.requestedFields.join('、'),
          },
          { title: t('用途', 'Purpose'), dataIndex: 'purpose' },
          { title: t('到期', 'Expires'), render: (_: unknown, s: Subscription) => formatTime(s.expiresAt ?? s.requestedUntil, lang) },
          { title: t('滞后', 'Lag'), render: (_: unknown, s: Subscription) => (s.status === 'approved' || s.status === 'paused' ? <LagCell id={s.id} status={s.status} /> : '—') },
          { title: t('最近投递', 'Last delivery'), render: (_: unknown, s: Subscription) => (s.status === 'pending' || s.status === 'rejected' ? '—' : <LastDelivery sub={s} />) },
          { title: t('最近决定', 'Decided'), render: (_: unknown, s: Subscription) => (s.decidedAt ? `${formatTime(s.decidedAt, lang)} · ${s.decidedBy ?? ''}` : '—') },
          ...(!consumerView
            ? [{ title: '', render: (_: unknown, s: Subscription) => (['approved', 'paused', 'pending'].includes(s.status) ? <Button danger size="small" onClick={() => revoke(s)}>{t('撤销', 'Revoke')}</Button> : null) }]
            : []),
        ]}
      />
    </Card>
  );
}

interface SubscriptionLag {
  distribution: { lag: number; backfilling: boolean } | null;
  shareRecords: number | null;
  consumers: Array<{ channel: string; name: string | null; lag: number }>;
  lag: number | null;
}

/** How far behind the consumer (and the distributor) are, refreshed while the page is open. */
function LagCell({ id, status }: { id: string; status: string }) {
  const t = useT();
  const lag = useLoad(() => get<SubscriptionLag>(`/v1/subscriptions/${id}/lag`), [id, status]);
  useEffect(() => {
    const timer = setInterval(lag.reload, 10_000);
    return () => clearInterval(timer);
  }, []);
  if (lag.error) return <Typography.Text type="danger">{t('无法读取', 'unavailable')}</Typography.Text>;
  if (!lag.data) return <span>…</span>;
  const { distribution, consumers } = lag.data;
  const readers = consumers.map((c) => `${c.channel === 'http' ? 'HTTP' : c.channel === 'connector' ? t('连接器', 'connector') : 'Kafka'}${c.name ? ` ${c.name}` : ''}: ${c.lag}`).join('\n');
  return (
    <span data-testid={`lag-${id}`} data-lag={lag.data.lag ?? ''} title={readers || undefined}>
      {lag.data.lag === null ? '—' : t(`${lag.data.lag} 条未读`, `${lag.data.lag} unread`)}
      {distribution ? (
        <div>
          <Typography.Text type="secondary" style={{ fontSize: 12 }} data-testid={`distribution-lag-${id}`}>
            {t(`分发待处理 ${distribution.lag} 条`, `${distribution.lag} awaiting distribution`)}{distribution.backfilling ? t('（回填中）', ' (backfilling)') : ''}
          </Typography.Text>
        </div>
      ) : null}
    </span>
  );
}

/** The receipt channels that are a delivery to the consumer for each way of receiving (the distributor's writes to the share topic are one only for native Kafka). */
const deliveryChannels: Record<string, string[]> = { http: ['http-pull', 'sse'], connector: ['sink'], kafka: ['kafka'] };

interface DeliveryChannelSummary {
  channel: string;
  records: number;
  lastDeliveryAt: string;
}

/** Records delivered to the consumer and the last delivery, from the subscription's receipts on its delivery channel. */
function LastDelivery({ sub }: { sub: Subscription }) {
  const t = useT();
  const lang = useLang();
  const summary = useLoad(() => get<{ channels: DeliveryChannelSummary[] }>(`/v1/subscriptions/${sub.id}/deliveries`), [sub.id]);
  useEffect(() => {
    const timer = setInterval(summary.reload, 10_000);
    return () => clearInterval(timer);
  }, []);
  if (!summary.data) return <span>…</span>;
  const wanted = deliveryChannels[sub.delivery] ?? [];
  const channels = summary.data.channels.filter((c) => wanted.includes(c.channel));
  const records = channels.reduce((n, c) => n + c.records, 0);
  const last = channels.map((c) => c.lastDeliveryAt).sort().pop();
  const onShareTopic = summary.data.channels.find((c) => c.channel === 'kafka');
  return last ? (
    <span data-testid={`delivered-${sub.id}`}>{formatTime(last, lang)} · {t(`共 ${records} 条`, `${records} records`)}</span>
  ) : (
    <Typography.Text type="secondary" data-testid={`delivered-${sub.id}`}>
      {t('尚无投递', 'none yet')}
      {onShareTopic && sub.delivery !== 'kafka' ? t(`（已写入共享主题 ${onShareTopic.records} 条）`, ` (${onShareTopic.records} on the share topic)`) : ''}
    </Typography.Text>
  );
}

function HowToConnect({ me, sub }: { me: Me; sub: Subscription }) {
  const t = useT();
  const origin = window.location.origin;
  return (
    <Descriptions size="small" bordered column={1} data-testid={`connect-${sub.id}`}>
      <Descriptions.Item label="Kafka bootstrap"><Typography.Text copyable>{me.connect?.kafkaBootstrap ?? '—'}</Typography.Text></Descriptions.Item>
      <Descriptions.Item label={t('主题', 'Topic')}><Typography.Text copyable>{sub.topic}</Typography.Text></Descriptions.Item>
      <Descriptions.Item label={t('消费组前缀', 'Consumer group prefix')}><Typography.Text copyable>{`dept.${me.department.id}.`}</Typography.Text></Descriptions.Item>
      <Descriptions.Item label={t('Kafka 身份', 'Kafka principal')}>{`SASL_SSL · SCRAM-SHA-512 · dept.${me.department.id}`} · {t('密码由本部门数据管理员在“API 密钥”页签发或轮换。', "the password is issued or rotated by your department's stewards on the API keys page.")}</Descriptions.Item>
      <Descriptions.Item label={t('模式注册中心', 'Schema registry')}><Typography.Text copyable>{`${origin}${me.connect?.registryPath ?? '/registry'}`}</Typography.Text> · {t('主题', 'subject')} <code>{sub.derivedSubject ?? '—'}</code></Descriptions.Item>
      <Descriptions.Item label={t('HTTP 拉取', 'HTTP pull')}><Typography.Text copyable>{`${origin}/v1/subscriptions/${sub.id}/records`}</Typography.Text></Descriptions.Item>
      <Descriptions.Item label="SSE"><Typography.Text copyable>{`${origin}/v1/subscriptions/${sub.id}/stream`}</Typography.Text></Descriptions.Item>
      <Descriptions.Item label={t('HTTP 凭据', 'HTTP credentials')}>{t('本部门使用方角色的 API 密钥（Bearer；注册中心用 HTTP Basic：部门编号 + 密钥）。', "Your department's consumer API key (Bearer; for the registry, HTTP Basic with the department id and the key).")}</Descriptions.Item>
    </Descriptions>
  );
}
