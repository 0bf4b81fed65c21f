import { Alert, Button, Card, Descriptions, Form, Input, Modal, Select, Space, Table, Typography } from 'antd';
import { useState } from 'react';
import { ApiError, call, get, type Me, post } from '../api';
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
      <KafkaCredentialsPanel me={me} />
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

interface KafkaCredentials {
  department: string;
  username: string;
  principal: string;
  mechanism: string;
  securityProtocol: string;
  bootstrapServers: string[];
  groupPrefix: string;
  status: 'active' | 'revoked';
  createdAt: string;
  rotatedAt: string | null;
  revokedAt: string | null;
  password?: string;
}

/** The department's Kafka principal (one per department): issue, rotate, revoke; the password is shown once. */
function KafkaCredentialsPanel({ me }: { me: Me }) {
  const t = useT();
  const lang = useLang();
  const departments = useDepartments();
  const [department, setDepartment] = useState(me.department.id);
  const current = useLoad(
    () => get<KafkaCredentials>(`/v1/departments/${department}/kafka-credentials`).catch((e) => (e instanceof ApiError && e.status === 404 ? null : Promise.reject(e))),
    [department],
  );
  const [issued, setIssued] = useState<KafkaCredentials | null>(null);
  const [error, setError] = useState<unknown>(null);
  const act = async (method: string, suffix = ''): Promise<void> => {
    try {
      setError(null);
      const res = await call<KafkaCredentials>(method, `/v1/departments/${department}/kafka-credentials${suffix}`, method === 'DELETE' ? undefined : {});
      setIssued(res.body.password ? res.body : null);
      current.reload();
    } catch (e) {
      setError(e);
    }
  };
  const c = current.data;
  return (
    <Card type="inner" style={{ marginTop: 24 }} title={t('Kafka 凭据（按部门）', 'Kafka credentials (one per department)')}
      extra={me.role === 'admin' && <Select aria-label={t('部门', 'Department')} value={department} onChange={setDepartment} style={{ width: 220 }} options={(departments.data ?? []).map((d) => ({ value: d.id, label: lang === 'zh' ? d.nameZh : d.nameEn }))} />}>
      <ErrorBox error={error ?? current.error} onClose={() => setError(null)} />
      {issued?.password && (
        <Alert type="success" showIcon closable onClose={() => setIssued(null)} style={{ marginBottom: 16 }}
          message={t('密码只显示这一次，请立即保存：', 'The password is shown this once; keep it now:')}
          description={<Typography.Text copyable code data-testid="kafka-password">{issued.password}</Typography.Text>} />
      )}
      {c ? (
        <Descriptions size="small" bordered column={2}>
          <Descriptions.Item label={t('用户名', 'User name')}><Typography.Text copyable>{c.username}</Typography.Text></Descriptions.Item>
          <Descriptions.Item label={t('状态', 'Status')}>{c.status === 'active' ? t('有效', 'active') : t('已吊销', 'revoked')}</Descriptions.Item>
          <Descriptions.Item label="bootstrap"><Typography.Text copyable>{c.bootstrapServers.join(',')}</Typography.Text></Descriptions.Item>
          <Descriptions.Item label={t('机制', 'Mechanism')}>{c.securityProtocol} · {c.mechanism}</Descriptions.Item>
          <Descriptions.Item label={t('消费组前缀', 'Group prefix')}><code>{c.groupPrefix}</code></Descriptions.Item>
          <Descriptions.Item label={t('签发 / 轮换', 'Issued / rotated')}>{formatTime(c.createdAt, lang)} / {formatTime(c.rotatedAt, lang)}</Descriptions.Item>
        </Descriptions>
      ) : (
        !current.loading && <Typography.Paragraph type="secondary">{t('尚未签发。', 'None issued yet.')}</Typography.Paragraph>
      )}
      <Space style={{ marginTop: 12 }}>
        {(!c || c.status === 'revoked') && <Button type="primary" onClick={() => void act('POST')}>{t('签发', 'Issue')}</Button>}
        {c?.status === 'active' && <Button onClick={() => void act('POST', '/rotate')}>{t('轮换密码', 'Rotate password')}</Button>}
        {c?.status === 'active' && <Button danger onClick={() => void act('DELETE')}>{t('吊销', 'Revoke')}</Button>}
      </Space>
    </Card>
  );
}
