import { Button, Card, Select, Space, Switch, Table, Tag, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { type Dataset, get, type Me, qs } from '../api';
import { ErrorBox, useLoad } from '../common';
import { formatTime, useLang, useT } from '../i18n';
import { navigate, usePath } from '../router';

export interface DeadLetter {
  partition: number;
  offset: string;
  at: string;
  source: 'publish' | 'connector';
  publisher: string | null;
  connector: string | null;
  origin: string | null;
  requestId: string | null;
  recordIndex: number | null;
  reasonCode: string;
  reason: string;
  errors: Array<{ path: string; message: string; rule?: string }>;
  truncated: boolean;
  payloadBytes: number;
  key?: string | null;
  payload?: string;
  payloadClipped?: boolean;
}

interface Page {
  items: DeadLetter[];
  next: string | null;
}

const PAGE = 20;

/** A steward's dead-letter records: what the publish path and source connectors rejected from their datasets, and why. */
export function DeadLettersPage({ me }: { me: Me }) {
  const t = useT();
  const lang = useLang();
  const { query } = usePath();
  const datasets = useLoad(
    () => get<{ items: Dataset[] }>(`/v1/datasets${qs({ owner: me.role === 'admin' ? undefined : me.department.id, limit: 500 })}`).then((r) => r.items),
    [me.department.id, me.role],
  );
  const chosen = query.get('dataset') ?? datasets.data?.[0]?.id ?? null;
  const [withPayload, setWithPayload] = useState(false);
  const [items, setItems] = useState<DeadLetter[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const load = async (before: string | null): Promise<void> => {
    if (!chosen) return;
    setLoading(true);
    setError(null);
    try {
      const page = await get<Page>(`/v1/datasets/${encodeURIComponent(chosen)}/dead-letters${qs({ limit: PAGE, before, payload: withPayload ? 'true' : undefined })}`);
      setItems((prev) => (before && prev ? [...prev, ...page.items] : page.items));
      setNext(page.next);
    } catch (e) {
      setError(e);
      if (!before) setItems(null);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    setItems(null);
    setNext(null);
    void load(null);
  }, [chosen, withPayload]);

  const sourceOf = (d: DeadLetter) =>
    d.source === 'connector' ? (
      <span>
        {t('连接器', 'Connector')} <code>{d.connector}</code>
        {d.origin ? <div><Typography.Text type="secondary" style={{ fontSize: 12 }}>{d.origin}</Typography.Text></div> : null}
      </span>
    ) : (
      <span>
        {t('HTTP 发布', 'HTTP publish')} · {d.publisher}
        <div>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t('请求', 'request')} {d.requestId ?? '—'}{d.recordIndex !== null ? ` · ${t('第', '#')}${d.recordIndex}${t(' 条', '')}` : ''}
          </Typography.Text>
        </div>
      </span>
    );

  const noDatasets = datasets.data !== undefined && datasets.data.length === 0;
  return (
    <Card
      title={<Typography.Title level={4} style={{ margin: 0 }}>{t('死信记录', 'Dead letters')}</Typography.Title>}
      extra={<Button onClick={() => void load(null)} disabled={!chosen}>{t('刷新', 'Refresh')}</Button>}
    >
      <Typography.Paragraph type="secondary">
        {t(
          '发布接口或源连接器拒收的记录（死信主题 govx.dlq.<数据集>），按时间从新到旧。原始记录默认不显示；查看记录的每次读取都记入审计。',
          'Records the publish API or a source connector rejected (the dead-letter topic govx.dlq.<dataset>), newest first. The records themselves are hidden unless you show them; every read is on the audit trail.',
        )}
      </Typography.Paragraph>
      <Space wrap style={{ marginBottom: 16 }}>
        <Select
          style={{ width: 320 }}
          aria-label={t('数据集', 'Dataset')}
          placeholder={t('数据集', 'Dataset')}
          loading={datasets.loading}
          value={chosen ?? undefined}
          onChange={(v: string) => navigate(`/dead-letters?dataset=${encodeURIComponent(v)}`, true)}
          options={(datasets.data ?? []).map((d) => ({ value: d.id, label: `${lang === 'zh' ? d.title.zh : d.title.en} (${d.id})` }))}
        />
        <Space>
          <Switch checked={withPayload} onChange={setWithPayload} aria-label={t('显示原始记录', 'Show the records')} data-testid="show-payload" />
          <span>{t('显示原始记录', 'Show the records')}</span>
        </Space>
      </Space>
      <ErrorBox error={datasets.error ?? error} />
      <Table<DeadLetter>
        rowKey={(d) => `${d.partition}:${d.offset}`}
        loading={loading || datasets.loading}
        dataSource={items ?? []}
        pagination={false}
        data-testid="dead-letters"
        locale={{
          emptyText: noDatasets
            ? t('本部门没有数据集', 'Your department owns no datasets')
            : error
              ? t('无法读取死信记录', 'The dead letters could not be read')
              : t('没有死信记录：所有记录均已通过校验。', 'No dead letters: every record passed validation.'),
        }}
        expandable={
          withPayload
            ? {
                expandedRowRender: (d) => (
                  <div data-testid={`payload-${d.partition}-${d.offset}`}>
                    {d.key !== undefined ? <div>{t('键', 'Key')}: <code>{d.key ?? '—'}</code></div> : null}
                    <pre style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all', maxHeight: 240, overflow: 'auto', margin: 0 }}>{d.payload}</pre>
                    {d.payloadClipped || d.truncated ? <Typography.Text type="secondary">{t(`仅显示前 4 KiB（共 ${d.payloadBytes} 字节）`, `First 4 KiB shown (${d.payloadBytes} bytes)`)}</Typography.Text> : null}
                  </div>
                ),
              }
            : undefined
        }
        columns={[
          { title: t('时间', 'Time'), render: (_, d) => formatTime(d.at, lang), width: 200 },
          { title: t('来源', 'Source'), render: (_, d) => sourceOf(d) },
          {
            title: t('原因', 'Reason'),
            render: (_, d) => (
              <div data-testid="dead-letter-reason">
                <Space size={2} wrap>{d.reasonCode.split(',').map((c) => <Tag key={c} color="red">{c}</Tag>)}</Space>
                {d.errors.length ? (
                  <ul style={{ margin: '4px 0 0', paddingInlineStart: 18 }}>
                    {d.errors.map((e, i) => <li key={i}><code>{e.path || t('（整条记录）', '(record)')}</code> {e.message}</li>)}
                  </ul>
                ) : (
                  <div>{d.reason}</div>
                )}
              </div>
            ),
          },
          { title: t('位置', 'Position'), render: (_, d) => <Typography.Text type="secondary">{`${d.partition} / ${d.offset}`}</Typography.Text>, width: 110 },
        ]}
      />
      {next ? (
        <div style={{ textAlign: 'center', marginTop: 12 }}>
          <Button onClick={() => void load(next)} loading={loading}>{t('更早的记录', 'Older records')}</Button>
        </div>
      ) : null}
    </Card>
  );
}
