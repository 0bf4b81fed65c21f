import { Card, Select, Table, Typography } from 'antd';
import { useState } from 'react';
import { type Department, patch } from '../api';
import { ErrorBox } from '../common';
import { useLabel, useT } from '../i18n';
import { useDepartments } from './Catalog';

export function DepartmentsPage() {
  const t = useT();
  const label = useLabel();
  const list = useDepartments();
  const [error, setError] = useState<unknown>(null);
  const setClearance = async (d: Department, clearance: number): Promise<void> => {
    try {
      await patch(`/v1/departments/${d.id}`, { clearance });
      setError(null);
      list.reload();
    } catch (e) {
      setError(e);
    }
  };
  const kinds: Record<string, string> = { 'municipal-bureau': t('市级部门', 'Municipal bureau'), 'district-government': t('区政府', 'District government'), administrator: t('管理部门', 'Administrator') };
  return (
    <Card title={<Typography.Title level={4} style={{ margin: 0 }}>{t('部门与密级', 'Departments and clearances')}</Typography.Title>}>
      <Typography.Paragraph type="secondary">{t('密级是部门可明文接收的最高敏感级别；更高级别的信息项按脱敏规则提供或不提供。', 'Clearance is the highest field sensitivity a department receives in clear; above it, fields are masked by their rule or withheld.')}</Typography.Paragraph>
      <ErrorBox error={error ?? list.error} />
      <Table<Department>
        rowKey="id"
        loading={list.loading}
        dataSource={list.data ?? []}
        pagination={false}
        columns={[
          { title: t('编号', 'Id'), dataIndex: 'id', render: (id: string) => <code>{id}</code> },
          { title: t('名称', 'Name'), render: (_, d) => `${d.nameZh} / ${d.nameEn}` },
          { title: t('类型', 'Kind'), dataIndex: 'kind', render: (k: string) => kinds[k] ?? k },
          {
            title: t('密级', 'Clearance'),
            render: (_, d) => (
              <Select aria-label={`clearance ${d.id}`} value={d.clearance} style={{ width: 170 }} onChange={(v) => void setClearance(d, v)}
                options={[1, 2, 3, 4].map((n) => ({ value: n, label: label('sensitivity', n) }))} />
            ),
          },
        ]}
      />
    </Card>
  );
}
