import { Button, Card, Input, Select, Space, Table, Tag, Typography } from 'antd';
import { useState } from 'react';
import { type Dataset, type Department, get, type Me, qs } from '../api';
import { ErrorBox, useLoad } from '../common';
import { labels, useLabel, useLang, useT } from '../i18n';
import { navigate } from '../router';

export function useDepartments() {
  return useLoad(() => get<{ items: Department[] }>('/v1/departments').then((r) => r.items), []);
}

export function CatalogPage({ me }: { me: Me }) {
  const t = useT();
  const lang = useLang();
  const label = useLabel();
  const [filters, setFilters] = useState<Record<string, string | undefined>>({});
  const departments = useDepartments();
  const deptName = (id: string): string => {
    const d = departments.data?.find((x) => x.id === id);
    return d ? (lang === 'zh' ? d.nameZh : d.nameEn) : id;
  };
  const list = useLoad(() => get<{ items: Dataset[]; total: number }>(`/v1/datasets${qs({ ...filters, limit: 500 })}`), [JSON.stringify(filters)]);
  const set = (k: string) => (v: string | undefined) => setFilters((f) => ({ ...f, [k]: v || undefined }));
  const opts = (group: keyof typeof labels) => Object.keys(labels[group]).map((value) => ({ value, label: label(group, value) }));
  return (
    <Card
      title={<Typography.Title level={4} style={{ margin: 0 }}>{t('数据目录', 'Sharing catalog')}</Typography.Title>}
      extra={me.role === 'admin' && <Button type="primary" onClick={() => navigate('/catalog/new')}>{t('新建数据集', 'New dataset')}</Button>}
    >
      <Space wrap style={{ marginBottom: 16 }} role="search">
        <Input.Search allowClear placeholder={t('搜索名称、编号或摘要', 'Search title, id or abstract')} onSearch={set('q')} style={{ width: 260 }} aria-label={t('搜索', 'Search')} />
        <Select allowClear placeholder={t('类别', 'Category')} options={opts('category')} onChange={set('category')} style={{ width: 180 }} aria-label={t('类别', 'Category')} />
        <Select allowClear placeholder={t('提供部门', 'Owner')} onChange={set('owner')} style={{ width: 200 }} aria-label={t('提供部门', 'Owner')}
          options={(departments.data ?? []).map((d) => ({ value: d.id, label: lang === 'zh' ? d.nameZh : d.nameEn }))} />
        <Select allowClear placeholder={t('共享类型', 'Sharing type')} options={opts('sharingType')} onChange={set('sharingType')} style={{ width: 150 }} aria-label={t('共享类型', 'Sharing type')} />
        <Select allowClear placeholder={t('状态', 'Status')} options={opts('status')} onChange={set('status')} style={{ width: 120 }} aria-label={t('状态', 'Status')} />
      </Space>
      <ErrorBox error={list.error} />
      <Table<Dataset>
        rowKey="id"
        loading={list.loading}
        dataSource={list.data?.items ?? []}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        locale={{ emptyText: t('没有符合条件的数据集', 'No dataset matches') }}
        columns={[
          {
            title: t('数据集', 'Dataset'),
            render: (_, d) => (
              <a href={`/console/catalog/${d.id}`} onClick={(e) => { e.preventDefault(); navigate(`/catalog/${d.id}`); }}>
                {lang === 'zh' ? d.title.zh : d.title.en}
                <div><Typography.Text type="secondary" style={{ fontSize: 12 }}>{d.id}</Typography.Text></div>
              </a>
            ),
          },
          { title: t('提供部门', 'Owner'), dataIndex: 'owner', render: (o: string) => deptName(o) },
          { title: t('类别', 'Category'), dataIndex: 'category', render: (c: string) => label('category', c) },
          { title: t('共享类型', 'Sharing'), dataIndex: 'sharingType', render: (s: string) => <Tag color={s === 'unconditional' ? 'green' : s === 'conditional' ? 'gold' : 'red'}>{label('sharingType', s)}</Tag> },
          { title: t('更新周期', 'Update cycle'), dataIndex: 'updateCycle', render: (c: string) => label('updateCycle', c) },
          { title: t('状态', 'Status'), dataIndex: 'status', render: (s: string) => label('status', s) },
          { title: t('信息项', 'Fields'), render: (_, d) => d.fields.length },
        ]}
      />
    </Card>
  );
}
