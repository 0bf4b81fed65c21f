import { Alert, Button, Card, Form, Input, Modal, Select, Space, Table, Typography } from 'antd';
import { useState } from 'react';
import { get, type Me, post } from '../api';
import { ErrorBox, useLoad } from '../common';
import { formatTime, labels, useLabel, useLang, useT } from '../i18n';
import { useDepartments } from './Catalog';

interface ApiKey {
  id: string;
  department: string;
  role: string;
  label: string | null;
  createdAt: string;
  createdBy: string | null;
  revokedAt: string | null;
}

export function KeysPage({ me }: { me: Me }) {
  const t = useT();
  const lang = useLang();
  const label = useLabel();
  const departments = useDepartments();
  const list = useLoad(() => get<{ items: ApiKey[] }>('/v1/keys').then((r) => r.items), []);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const create = async (v: { department: string; role: string; label?: string }): Promise<void> => {
    try {
      const created = await post<{ key: string }>('/v1/keys', { department: v.department, role: v.role, ...(v.label ? { label: v.label } : {}) });
      setCreating(false);
      setSecret(created.key);
      list.reload();
    } catch (e) {
      setError(e);
    }
  };
  const revoke = async (k: ApiKey): Promise<void> => {
    try {
      await post(`/v1/keys/${k.id}/revoke`, {});
      list.reload();
    } catch (e) {
      setError(e);
    }
  };
  const roleOptions = Object.keys(labels.role).filter((r) => me.role === 'admin' || r !== 'admin').map((value) => ({ value, label: label('role', value) }));
  return (
    <Card title={<Typography.Title level={4} style={{ margin: 0 }}>{t('API 密钥', 'API keys')}</Typography.Title>} extra={<Button type="primary" onClick={() => setCreating(true)}>{t('新建密钥', 'New key')}</Button>}>
      <ErrorBox error={error ?? list.error} onClose={() => setError(null)} />
      {secret && (
        <Alert type="success" showIcon closable onClose={() => setSecret(null)} style={{ marginBottom: 16 }}
          message={t('新密钥只显示这一次，请立即保存：', 'The new key is shown this once; keep it now:')}
          description={<Typography.Text copyable code data-testid="new-key">{secret}</Typography.Text>} />
      )}
      <Table<ApiKey>
        rowKey="id"
        loading={list.loading}
        dataSource={list.data ?? []}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        locale={{ emptyText: t('没有密钥', 'No keys') }}
        columns={[
          { title: t('编号', 'Id'), dataIndex: 'id', render: (id: string) => <code>{id}</code> },
          { title: t('部门', 'Department'), dataIndex: 'department' },
          { title: t('角色', 'Role'), dataIndex: 'role', render: (r: string) => label('role', r) },
          { title: t('标签', 'Label'), dataIndex: 'label', render: (l: string | null) => l ?? '—' },
          { title: t('创建', 'Created'), render: (_, k) => `${formatTime(k.createdAt, lang)} · ${k.createdBy ?? ''}` },
          { title: t('状态', 'State'), render: (_, k) => (k.revokedAt ? `${t('已吊销', 'revoked')} ${formatTime(k.revokedAt, lang)}` : t('有效', 'live')) },
          { title: '', render: (_, k) => (!k.revokedAt && k.id !== me.actor ? <Button danger size="small" onClick={() => void revoke(k)}>{t('吊销', 'Revoke')}</Button> : null) },
        ]}
      />
      <Modal open={creating} title={t('新建 API 密钥', 'New API key')} footer={null} onCancel={() => setCreating(false)} destroyOnClose>
        <Form layout="vertical" onFinish={(v) => void create(v as never)} initialValues={{ department: me.department.id, role: 'consumer' }}>
          <Form.Item name="department" label={t('部门', 'Department')} rules={[{ required: true }]}>
            <Select disabled={me.role !== 'admin'} options={(departments.data ?? []).map((d) => ({ value: d.id, label: lang === 'zh' ? d.nameZh : d.nameEn }))} />
          </Form.Item>
          <Form.Item name="role" label={t('角色', 'Role')} rules={[{ required: true }]}><Select options={roleOptions} /></Form.Item>
          <Form.Item name="label" label={t('标签', 'Label')}><Input maxLength={200} /></Form.Item>
          <Space><Button type="primary" htmlType="submit">{t('创建', 'Create')}</Button></Space>
        </Form>
      </Modal>
    </Card>
  );
}
