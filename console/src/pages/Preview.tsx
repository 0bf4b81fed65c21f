import { Alert, Collapse, Space, Table, Typography } from 'antd';
import type { Preview } from '../api';
import { DeliveryTag } from '../common';
import { useT } from '../i18n';

/** What a grant would deliver: each field's delivery, what is withheld, synthetic records as delivered, and the derived schema. */
export function PreviewView({ preview }: { preview: Preview }) {
  const t = useT();
  const names = preview.fields.map((f) => f.name);
  return (
    <div data-testid="preview">
      <Space wrap style={{ marginBottom: 8 }}>
        {preview.fields.map((f) => (
          <span key={f.name} data-field={f.name} data-delivery={f.delivery}>
            <code>{f.name}</code> <DeliveryTag delivery={f.delivery} />
          </span>
        ))}
      </Space>
      {preview.withheld.length > 0 && (
        <Alert type="warning" showIcon style={{ marginBottom: 8 }} message={t(`按密级不予提供：${preview.withheld.join('、')}`, `Withheld by clearance: ${preview.withheld.join(', ')}`)} />
      )}
      <Typography.Text type="secondary">{t('以下为合成的示例记录，按审批后的方式投影和脱敏，不含真实数据。', 'Synthetic sample records, projected and masked as they would be delivered; no real data.')}</Typography.Text>
      <Table
        size="small"
        rowKey={(_, i) => String(i)}
        pagination={false}
        scroll={{ x: true }}
        dataSource={preview.records}
        columns={names.map((n) => ({ title: n, dataIndex: n, render: (v: unknown) => <span data-preview-field={n}>{v === null || v === undefined ? '∅' : typeof v === 'object' ? JSON.stringify(v) : String(v)}</span> }))}
      />
      <Collapse
        style={{ marginTop: 8 }}
        items={[{ key: 's', label: t('派生模式（使用方读取的 Avro 模式）', 'Derived schema (the Avro schema the consumer reads)'), children: <pre style={{ maxHeight: 300, overflow: 'auto' }}>{JSON.stringify(preview.schema, null, 2)}</pre> }]}
      />
    </div>
  );
}
