import { Button, Card, Divider, Form, Input, Segmented, Space, Typography } from 'antd';
import { useContext, useState } from 'react';
import { post } from '../api';
import { ErrorBox, useLoad } from '../common';
import { LangContext, type Lang, useT } from '../i18n';
import { usePath } from '../router';

const reasons: Record<string, [string, string]> = {
  'session.unmapped_department': ['您的统一身份账号未对应任何部门，请联系管理员。', 'Your single sign-on account maps to no department; ask an administrator.'],
  'session.unmapped_role': ['您的统一身份账号未对应任何角色，请联系管理员。', 'Your single sign-on account maps to no govx role; ask an administrator.'],
  'session.flow_mismatch': ['登录请求不是从本浏览器发起的，请重新登录。', 'The sign-in did not start in this browser; sign in again.'],
  'session.flow_expired': ['登录已超时，请重新登录。', 'The sign-in took too long; sign in again.'],
  'session.provider_refused': ['身份提供方拒绝了登录。', 'The identity provider refused the sign-in.'],
  'session.oidc_failed': ['统一身份认证失败，请重试。', 'Single sign-on failed; try again.'],
};

export function SignInPage({ onSignedIn }: { onSignedIn: () => void }) {
  const t = useT();
  const { lang, setLang } = useContext(LangContext);
  const { query } = usePath();
  const options = useLoad(() => fetch('/v1/session/options').then((r) => r.json() as Promise<{ oidc: boolean; apiKey: boolean }>), []);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const returnTo = query.get('returnTo') ?? '/console/';
  const failure = query.get('error');
  const signIn = async (values: { key: string }): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await post('/v1/session', { key: values.key.trim() });
      onSignedIn();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div style={{ minHeight: '100vh', display: 'grid', placeItems: 'center', background: '#f5f0eb' }}>
      <main>
        <Card style={{ width: 440 }}>
          <Space style={{ width: '100%', justifyContent: 'space-between' }}>
            <Typography.Title level={3} style={{ margin: 0 }}>{t('政务数据共享交换平台', 'govx data exchange')}</Typography.Title>
            <Segmented size="small" value={lang} onChange={(v) => setLang(v as Lang)} options={[{ label: '中文', value: 'zh' }, { label: 'EN', value: 'en' }]} />
          </Space>
          <Typography.Paragraph type="secondary">{t('请登录以管理目录、审批申请或查看订阅。', 'Sign in to keep the catalog, decide on requests or follow your subscriptions.')}</Typography.Paragraph>
          {failure && <ErrorBox error={{ message: (reasons[failure] ?? [failure, failure])[lang === 'zh' ? 0 : 1] }} />}
          <ErrorBox error={error} />
          {options.data?.oidc && (
            <Button type="primary" size="large" block href={`/v1/session/oidc?returnTo=${encodeURIComponent(returnTo)}`}>
              {t('统一身份认证登录', 'Sign in with single sign-on')}
            </Button>
          )}
          {options.data?.apiKey && (
            <>
              {options.data?.oidc && <Divider plain>{t('或（开发用）', 'or, for development')}</Divider>}
              <Form layout="vertical" onFinish={(v) => void signIn(v as { key: string })} requiredMark={false}>
                <Form.Item name="key" label={t('API 密钥', 'API key')} rules={[{ required: true, message: t('请输入 API 密钥', 'Enter an API key') }]}>
                  <Input.Password placeholder="govx_…" autoComplete="off" />
                </Form.Item>
                <Button htmlType="submit" block loading={busy}>{t('使用 API 密钥登录', 'Sign in with the API key')}</Button>
              </Form>
            </>
          )}
          {options.data && !options.data.oidc && !options.data.apiKey && <Typography.Text type="danger">{t('未配置任何登录方式。', 'No sign-in is configured.')}</Typography.Text>}
        </Card>
      </main>
    </div>
  );
}
