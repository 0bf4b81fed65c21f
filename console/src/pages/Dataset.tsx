import { Alert, Button, Card, Collapse, Descriptions, Input, Select, Space, Table, Tabs, Tag, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { ApiError, call, type Dataset, get, type Me } from '../api';
import { ErrorBox, Loading, SensitivityTag, useLoad } from '../common';
import { type Change, diffFlat, diffSchemas, type Flat, flatten, patchOf } from '../diff';
import { formatTime, labels, useLabel, useLang, useT } from '../i18n';
import { navigate } from '../router';
import { useDepartments } from './Catalog';

async function loadDataset(id: string): Promise<{ dataset: Dataset; etag: string }> {
  const res = await call<Dataset>('GET', `/v1/datasets/${encodeURIComponent(id)}`);
  return { dataset: res.body, etag: res.headers.get('etag') ?? `"v${res.body.version}"` };
}

export function ChangeTable({ changes, highlight }: { changes: Change[]; highlight?: Set<string> }) {
  const t = useT();
  return (
    <Table<Change>
      size="small"
      rowKey="path"
      pagination={false}
      dataSource={changes}
      locale={{ emptyText: t('无变化', 'No change') }}
      rowClassName={(c) => (highlight?.has(c.path) ? 'govx-conflict' : '')}
      columns={[
        { title: t('项', 'Item'), dataIndex: 'path', render: (p: string) => <code>{p}</code> },
        { title: t('原值', 'Before'), dataIndex: 'before', render: (v?: string) => <Typography.Text delete type="secondary">{v ?? '—'}</Typography.Text> },
        { title: t('新值', 'After'), dataIndex: 'after', render: (v?: string) => <Typography.Text strong>{v ?? '—'}</Typography.Text> },
      ]}
    />
  );
}

export function DatasetPage({ me, id, editing }: { me: Me; id: string; editing: boolean }) {
  const t = useT();
  const lang = useLang();
  const label = useLabel();
  const loaded = useLoad(() => loadDataset(id), [id]);
  const departments = useDepartments();
  if (loaded.loading && !loaded.data) return <Loading />;
  if (loaded.error) return <ErrorBox error={loaded.error} />;
  const d = loaded.data!.dataset;
  const owner = departments.data?.find((x) => x.id === d.owner);
  if (editing && me.role === 'admin') return <DatasetEditor initial={loaded.data!} onSaved={() => { loaded.reload(); navigate(`/catalog/${d.id}`); }} />;
  return (
    <Card
      title={<Typography.Title level={4} style={{ margin: 0 }}>{lang === 'zh' ? d.title.zh : d.title.en} <Typography.Text type="secondary" style={{ fontSize: 14 }}>{d.id}</Typography.Text></Typography.Title>}
      extra={
        <Space>
          {me.role === 'admin' && <Button type="primary" onClick={() => navigate(`/catalog/${d.id}/edit`)}>{t('编辑', 'Edit')}</Button>}
          {(me.role === 'admin' || (me.role === 'steward' && me.department.id === d.owner)) && (
            <Button onClick={() => navigate(`/dead-letters?dataset=${encodeURIComponent(d.id)}`)}>{t('死信记录', 'Dead letters')}</Button>
          )}
          {me.role === 'consumer' && d.sharingType !== 'none' && d.status === 'active' && (
            <Button type="primary" onClick={() => navigate(`/request/${d.id}`)}>{t('申请使用', 'Request access')}</Button>
          )}
        </Space>
      }
    >
      <Descriptions bordered size="small" column={2} style={{ marginBottom: 16 }}>
        <Descriptions.Item label={t('提供部门', 'Owner')}>{owner ? (lang === 'zh' ? owner.nameZh : owner.nameEn) : d.owner}</Descriptions.Item>
        <Descriptions.Item label={t('类别', 'Category')}>{label('category', d.category)}</Descriptions.Item>
        <Descriptions.Item label={t('共享类型', 'Sharing type')}><span data-testid="sharing-type">{label('sharingType', d.sharingType)}</span></Descriptions.Item>
        <Descriptions.Item label={t('更新周期', 'Update cycle')}>{label('updateCycle', d.updateCycle)}</Descriptions.Item>
        <Descriptions.Item label={t('共享条件', 'Sharing conditions')} span={2}>{d.sharingConditions ?? '—'}</Descriptions.Item>
        <Descriptions.Item label={t('法律依据', 'Legal basis')} span={2}>{d.legalBasis ?? '—'}</Descriptions.Item>
        <Descriptions.Item label={t('摘要', 'Abstract')} span={2}><span data-testid="abstract">{d.abstract}</span></Descriptions.Item>
        <Descriptions.Item label={t('状态', 'Status')}>{label('status', d.status)}</Descriptions.Item>
        <Descriptions.Item label={t('版本', 'Version')}>v{d.version} · {formatTime(d.updatedAt, lang)}</Descriptions.Item>
      </Descriptions>
      <Tabs
        items={[
          {
            key: 'fields',
            label: t('信息项', 'Fields'),
            children: (
              <Table
                size="small"
                rowKey="name"
                pagination={false}
                dataSource={d.fields}
                columns={[
                  { title: t('名称', 'Name'), dataIndex: 'name', render: (n: string) => <code>{n}{n === d.keyField ? ' 🔑' : ''}</code> },
                  { title: t('类型', 'Type'), dataIndex: 'type' },
                  { title: t('说明', 'Description'), dataIndex: 'description' },
                  { title: t('敏感级别', 'Sensitivity'), dataIndex: 'sensitivity', render: (s: number) => <SensitivityTag level={s} /> },
                  { title: t('脱敏方式', 'Masking'), dataIndex: 'masking', render: (m: string) => label('masking', m) },
                ]}
              />
            ),
          },
          { key: 'schemas', label: t('模式版本', 'Schema versions'), children: <SchemaVersions id={d.id} /> },
          { key: 'history', label: t('修改历史', 'Edit history'), children: <History id={d.id} version={d.version} /> },
        ]}
      />
    </Card>
  );
}

function SchemaVersions({ id }: { id: string }) {
  const t = useT();
  const versions = useLoad(() => get<{ subject: string; items: Array<{ version: number; id: number; schema: any }> }>(`/v1/datasets/${encodeURIComponent(id)}/schemas`), [id]);
  const [pair, setPair] = useState<[number | undefined, number | undefined]>([undefined, undefined]);
  if (versions.loading) return <Loading />;
  if (versions.error) {
    if (versions.error instanceof ApiError && versions.error.status === 404) return <Alert type="info" message={t('只有提供部门和管理员可以查看此数据集的模式版本。', "Only the owning department and administrators see this dataset's schema versions.")} />;
    return <ErrorBox error={versions.error} />;
  }
  const items = versions.data!.items;
  const to = pair[1] ?? items[0]?.version;
  const from = pair[0] ?? items[1]?.version ?? items[0]?.version;
  const a = items.find((v) => v.version === from)?.schema;
  const b = items.find((v) => v.version === to)?.schema;
  const opts = items.map((v) => ({ value: v.version, label: `v${v.version} (id ${v.id})` }));
  return (
    <>
      <Space style={{ marginBottom: 12 }}>
        <Typography.Text>{versions.data!.subject}</Typography.Text>
        <Select value={from} options={opts} onChange={(v) => setPair([v, to])} style={{ width: 140 }} aria-label={t('起始版本', 'From version')} />
        →
        <Select value={to} options={opts} onChange={(v) => setPair([from, v])} style={{ width: 140 }} aria-label={t('目标版本', 'To version')} />
      </Space>
      <Table
        size="small"
        rowKey={(r) => `${r.field}:${r.change}`}
        pagination={false}
        dataSource={diffSchemas(a, b)}
        locale={{ emptyText: t('两个版本相同', 'The versions are the same') }}
        columns={[
          { title: t('字段', 'Field'), dataIndex: 'field', render: (f: string) => <code>{f}</code> },
          { title: t('变化', 'Change'), dataIndex: 'change', render: (c: string) => <Tag>{({ added: t('新增', 'added'), removed: t('删除', 'removed'), type: t('类型变化', 'retyped'), doc: t('说明变化', 'doc') } as Record<string, string>)[c]}</Tag> },
          { title: t('原', 'Before'), dataIndex: 'before' },
          { title: t('新', 'After'), dataIndex: 'after' },
        ]}
      />
    </>
  );
}

function History({ id, version }: { id: string; version: number }) {
  const t = useT();
  const lang = useLang();
  const history = useLoad(() => get<{ items: Array<{ version: number; change: string; changedBy: string; changedAt: string; snapshot: Dataset }> }>(`/v1/datasets/${encodeURIComponent(id)}/history`), [id, version]);
  if (history.loading) return <Loading />;
  if (history.error) return <ErrorBox error={history.error} />;
  const items = history.data!.items;
  return (
    <Collapse
      items={items.map((h, i) => ({
        key: String(h.version),
        label: `v${h.version} · ${h.change === 'created' ? t('创建', 'created') : t('修改', 'updated')} · ${h.changedBy} · ${formatTime(h.changedAt, lang)}`,
        children: <ChangeTable changes={diffFlat(items[i + 1] ? flatten(items[i + 1]!.snapshot) : {}, flatten(h.snapshot))} />,
      }))}
    />
  );
}

/**
 * Edits with the ETag the page was loaded with. A 412 (someone else saved first) keeps the user's draft, shows
 * what the other edit changed and what this one changes, and lets the user apply theirs on top of the latest
 * version (then save again) or drop it and reload.
 */
function DatasetEditor({ initial, onSaved }: { initial: { dataset: Dataset; etag: string }; onSaved: () => void }) {
  const t = useT();
  const label = useLabel();
  const [base, setBase] = useState(initial);
  const [draft, setDraft] = useState<Flat>(() => flatten(initial.dataset));
  const [error, setError] = useState<unknown>(null);
  const [conflict, setConflict] = useState<{ latest: { dataset: Dataset; etag: string }; theirs: Change[]; mine: Change[] } | null>(null);
  const [saving, setSaving] = useState(false);
  const baseFlat = flatten(base.dataset);
  const mine = diffFlat(baseFlat, draft);
  useEffect(() => setError(null), [draft]);
  const set = (path: string) => (value: string) => setDraft((d) => ({ ...d, [path]: value }));
  const save = async (): Promise<void> => {
    setSaving(true);
    try {
      await call('PATCH', `/v1/datasets/${encodeURIComponent(base.dataset.id)}`, patchOf(baseFlat, draft), { 'if-match': base.etag });
      onSaved();
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        const latest = await loadDataset(base.dataset.id);
        setConflict({ latest, theirs: diffFlat(baseFlat, flatten(latest.dataset)), mine });
      } else setError(e);
    } finally {
      setSaving(false);
    }
  };
  const merge = (): void => {
    if (!conflict) return;
    const merged = { ...flatten(conflict.latest.dataset) };
    for (const c of conflict.mine) if (c.after !== undefined) merged[c.path] = c.after;
    setBase(conflict.latest);
    setDraft(merged);
    setConflict(null);
  };
  const reload = (): void => {
    if (!conflict) return;
    setBase(conflict.latest);
    setDraft(flatten(conflict.latest.dataset));
    setConflict(null);
  };
  const opts = (group: keyof typeof labels) => Object.keys(labels[group]).map((value) => ({ value, label: label(group, value) }));
  const both = new Set(conflict ? conflict.theirs.map((c) => c.path).filter((p) => conflict.mine.some((m) => m.path === p)) : []);
  const d = base.dataset;
  return (
    <Card title={`${t('编辑', 'Edit')} ${d.id} (v${d.version})`} extra={<Button onClick={() => navigate(`/catalog/${d.id}`)}>{t('返回', 'Back')}</Button>}>
      {conflict && (
        <Alert
          type="warning"
          showIcon
          role="alert"
          data-testid="conflict"
          style={{ marginBottom: 16 }}
          message={t(`保存前此数据集已被他人修改（现为 v${conflict.latest.dataset.version}）。您的修改仍保留在下方。`, `Someone saved this dataset first (now v${conflict.latest.dataset.version}). Your edits are still below.`)}
          description={
            <>
              <Typography.Title level={5}>{t('他人的修改', 'Their changes')}</Typography.Title>
              <ChangeTable changes={conflict.theirs} highlight={both} />
              <Typography.Title level={5}>{t('您的修改', 'Your changes')}</Typography.Title>
              <ChangeTable changes={conflict.mine} highlight={both} />
              {both.size > 0 && <Typography.Paragraph type="danger">{t('双方都修改了：', 'Both changed: ')}{[...both].join(', ')}{t('，合并时以您的为准。', '; merging keeps yours.')}</Typography.Paragraph>}
              <Space>
                <Button type="primary" onClick={merge}>{t('合并：在最新版本上应用我的修改', 'Merge: apply my changes to the latest version')}</Button>
                <Button danger onClick={reload}>{t('放弃我的修改并重新加载', 'Discard mine and reload')}</Button>
              </Space>
            </>
          }
        />
      )}
      <ErrorBox error={error} />
      <Descriptions bordered size="small" column={1} labelStyle={{ width: 160 }}>
        <Descriptions.Item label={t('中文名称', 'Title (Chinese)')}><Input aria-label="title.zh" value={draft['title.zh']} onChange={(e) => set('title.zh')(e.target.value)} /></Descriptions.Item>
        <Descriptions.Item label={t('英文名称', 'Title (English)')}><Input aria-label="title.en" value={draft['title.en']} onChange={(e) => set('title.en')(e.target.value)} /></Descriptions.Item>
        <Descriptions.Item label={t('摘要', 'Abstract')}><Input.TextArea aria-label="abstract" autoSize value={draft.abstract} onChange={(e) => set('abstract')(e.target.value)} /></Descriptions.Item>
        <Descriptions.Item label={t('类别', 'Category')}><Select aria-label="category" value={draft.category} options={opts('category')} onChange={set('category')} style={{ width: 240 }} /></Descriptions.Item>
        <Descriptions.Item label={t('共享类型', 'Sharing type')}><Select aria-label="sharingType" value={draft.sharingType} options={opts('sharingType')} onChange={set('sharingType')} style={{ width: 240 }} /></Descriptions.Item>
        <Descriptions.Item label={t('共享条件', 'Sharing conditions')}><Input.TextArea aria-label="sharingConditions" autoSize value={draft.sharingConditions} onChange={(e) => set('sharingConditions')(e.target.value)} /></Descriptions.Item>
        <Descriptions.Item label={t('法律依据', 'Legal basis')}><Input.TextArea aria-label="legalBasis" autoSize value={draft.legalBasis} onChange={(e) => set('legalBasis')(e.target.value)} /></Descriptions.Item>
        <Descriptions.Item label={t('更新周期', 'Update cycle')}><Select aria-label="updateCycle" value={draft.updateCycle} options={opts('updateCycle')} onChange={set('updateCycle')} style={{ width: 240 }} /></Descriptions.Item>
        <Descriptions.Item label={t('状态', 'Status')}><Select aria-label="status" value={draft.status} options={opts('status')} onChange={set('status')} style={{ width: 240 }} /></Descriptions.Item>
      </Descriptions>
      <Typography.Title level={5} style={{ marginTop: 16 }}>{t('信息项', 'Fields')}</Typography.Title>
      <Table
        size="small"
        rowKey="name"
        pagination={false}
        dataSource={d.fields}
        columns={[
          { title: t('名称', 'Name'), dataIndex: 'name', render: (n: string) => <code>{n}</code> },
          { title: t('说明', 'Description'), render: (_, f) => <Input aria-label={`fields.${f.name}.description`} value={draft[`fields.${f.name}.description`]} onChange={(e) => set(`fields.${f.name}.description`)(e.target.value)} /> },
          { title: t('敏感级别', 'Sensitivity'), render: (_, f) => <Select aria-label={`fields.${f.name}.sensitivity`} value={draft[`fields.${f.name}.sensitivity`]} options={opts('sensitivity')} onChange={set(`fields.${f.name}.sensitivity`)} style={{ width: 150 }} /> },
          { title: t('脱敏方式', 'Masking'), render: (_, f) => <Select aria-label={`fields.${f.name}.masking`} value={draft[`fields.${f.name}.masking`]} options={opts('masking')} onChange={set(`fields.${f.name}.masking`)} style={{ width: 130 }} /> },
        ]}
      />
      <Space style={{ marginTop: 16 }}>
        <Button type="primary" onClick={() => void save()} loading={saving} disabled={mine.length === 0 || !!conflict}>{t('保存', 'Save')}</Button>
        <Typography.Text type="secondary">{mine.length ? t(`${mine.length} 项修改未保存`, `${mine.length} unsaved change(s)`) : t('没有修改', 'No changes')}</Typography.Text>
      </Space>
    </Card>
  );
}
