import { Button, Card, Form, Input, Select, Typography } from 'antd';
import { useState } from 'react';
import { post } from '../api';
import { ErrorBox } from '../common';
import { labels, useLabel, useLang, useT } from '../i18n';
import { navigate } from '../router';
import { useDepartments } from './Catalog';

export function DatasetCreatePage() {
  const t = useT();
  const lang = useLang();
  const label = useLabel();
  const departments = useDepartments();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const opts = (group: keyof typeof labels) => Object.keys(labels[group]).map((value) => ({ value, label: label(group, value) }));
  const create = async (v: Record<string, string>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      let schema: unknown;
      try {
        schema = JSON.parse(v.schema!);
      } catch {
        throw new Error(t('Avro 模式不是合法的 JSON', 'The Avro schema is not valid JSON'));
      }
      const created = await post<{ id: string }>('/v1/datasets', {
        id: v.id, title: { zh: v.titleZh, en: v.titleEn }, owner: v.owner, category: v.category, abstract: v.abstract ?? '',
        sharing: { type: v.sharingType, ...(v.conditions ? { conditions: v.conditions } : {}), ...(v.legalBasis ? { legalBasis: v.legalBasis } : {}) },
        updateCycle: v.updateCycle, keyField: v.keyField, status: v.status, schema,
      });
      navigate(`/catalog/${created.id}`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title={<Typography.Title level={4} style={{ margin: 0 }}>{t('新建数据集', 'New dataset')}</Typography.Title>}>
      <ErrorBox error={error} />
      <Form layout="vertical" style={{ maxWidth: 720 }} onFinish={(v) => void create(v as Record<string, string>)} initialValues={{ sharingType: 'conditional', updateCycle: 'daily', status: 'active', category: 'other' }}>
        <Form.Item name="id" label={t('编号（如 area.name）', 'Id (area.name)')} rules={[{ required: true }]}><Input /></Form.Item>
        <Form.Item name="titleZh" label={t('中文名称', 'Title (Chinese)')} rules={[{ required: true }]}><Input /></Form.Item>
        <Form.Item name="titleEn" label={t('英文名称', 'Title (English)')} rules={[{ required: true }]}><Input /></Form.Item>
        <Form.Item name="owner" label={t('提供部门', 'Owner')} rules={[{ required: true }]}>
          <Select options={(departments.data ?? []).map((d) => ({ value: d.id, label: lang === 'zh' ? d.nameZh : d.nameEn }))} />
        </Form.Item>
        <Form.Item name="category" label={t('类别', 'Category')}><Select options={opts('category')} /></Form.Item>
        <Form.Item name="abstract" label={t('摘要', 'Abstract')}><Input.TextArea autoSize /></Form.Item>
        <Form.Item name="sharingType" label={t('共享类型', 'Sharing type')}><Select options={opts('sharingType')} /></Form.Item>
        <Form.Item name="conditions" label={t('共享条件', 'Sharing conditions')}><Input.TextArea autoSize /></Form.Item>
        <Form.Item name="legalBasis" label={t('法律依据（不予共享时必填）', 'Legal basis (required when not shared)')}><Input.TextArea autoSize /></Form.Item>
        <Form.Item name="updateCycle" label={t('更新周期', 'Update cycle')}><Select options={opts('updateCycle')} /></Form.Item>
        <Form.Item name="status" label={t('状态', 'Status')}><Select options={opts('status')} /></Form.Item>
        <Form.Item name="keyField" label={t('主键字段', 'Key field')} rules={[{ required: true }]}><Input /></Form.Item>
        <Form.Item name="schema" label={t('Avro 模式（JSON）', 'Avro schema (JSON)')} rules={[{ required: true }]}><Input.TextArea autoSize={{ minRows: 6 }} style={{ fontFamily: 'monospace' }} /></Form.Item>
        <Button type="primary" htmlType="submit" loading={busy}>{t('创建', 'Create')}</Button>
      </Form>
    </Card>
  );
}
