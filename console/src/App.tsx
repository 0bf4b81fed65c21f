import { App as AntApp, Button, ConfigProvider, Layout, Menu, Segmented, Space, Typography } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import { useContext, useEffect, useMemo, useState } from 'react';
import { ApiError, call, get, type Me, setCsrfToken } from './api';
import { Loading } from './common';
import { LangContext, type Lang, useLabel, useT } from './i18n';
import { navigate, usePath } from './router';
import { ApprovalsPage } from './pages/Approvals';
import { AuditPage } from './pages/Audit';
import { CatalogPage } from './pages/Catalog';
import { ConnectorsPage } from './pages/Connectors';
import { DatasetCreatePage } from './pages/DatasetCreate';
import { DatasetPage } from './pages/Dataset';
import { DeadLettersPage } from './pages/DeadLetters';
import { DepartmentsPage } from './pages/Departments';
import { HealthPage } from './pages/Health';
import { KeysPage } from './pages/Keys';
import { RequestPage } from './pages/Request';
import { SignInPage } from './pages/SignIn';
import { SubscriptionsPage } from './pages/Subscriptions';

const FONT = "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', system-ui, sans-serif";

export function App() {
  const [lang, setLangState] = useState<Lang>(() => (localStorage.getItem('govx.lang') === 'en' ? 'en' : 'zh'));
  const setLang = (l: Lang): void => {
    localStorage.setItem('govx.lang', l);
    document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
    setLangState(l);
  };
  useEffect(() => {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  }, [lang]);
  return (
    <LangContext.Provider value={{ lang, setLang }}>
      <ConfigProvider locale={lang === 'zh' ? zhCN : enUS} button={{ autoInsertSpace: false }} theme={{ token: { fontFamily: FONT, colorPrimary: '#b7312c', borderRadius: 4 } }}>
        <AntApp>
          <Shell />
        </AntApp>
      </ConfigProvider>
    </LangContext.Provider>
  );
}

/** The role's main page: where "/" leads after sign-in. */
export const homeOf = (role: Me['role']): string => (role === 'steward' ? '/approvals' : role === 'consumer' ? '/subscriptions' : '/catalog');

function Shell() {
  const { path, query } = usePath();
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const refreshMe = (): void => {
    get<Me>('/v1/me').then(
      (m) => {
        setCsrfToken(m.session?.csrfToken ?? null);
        setMe(m);
      },
      (e) => {
        setCsrfToken(null);
        setMe(e instanceof ApiError && e.status === 401 ? null : null);
      },
    );
  };
  useEffect(refreshMe, []);
  useEffect(() => {
    if (me === null && path !== '/signin') navigate(`/signin?returnTo=${encodeURIComponent(`/console${path}${window.location.search}`)}`, true);
    if (me && path === '/signin') {
      const back = (query.get('returnTo') ?? '').replace(/^\/console/, '');
      navigate(back && back !== '/' && back.startsWith('/') && !back.startsWith('//') ? back : homeOf(me.role), true);
    }
    if (me && path === '/') navigate(homeOf(me.role), true);
  }, [me, path]);
  if (me === undefined) return <Loading />;
  if (me === null || path === '/signin') return <SignInPage onSignedIn={refreshMe} />;
  return <Main me={me} onSignedOut={() => setMe(null)} />;
}

function Main({ me, onSignedOut }: { me: Me; onSignedOut: () => void }) {
  const t = useT();
  const label = useLabel();
  const { lang, setLang } = useContext(LangContext);
  const { path } = usePath();
  const items = useMemo(() => {
    const all: Array<{ key: string; label: string; roles: Me['role'][] }> = [
      { key: '/catalog', label: t('数据目录', 'Catalog'), roles: ['admin', 'steward', 'consumer', 'publisher'] },
      { key: '/approvals', label: t('审批', 'Approvals'), roles: ['steward'] },
      { key: '/requests', label: t('我的申请', 'My requests'), roles: ['consumer'] },
      { key: '/subscriptions', label: me.role === 'consumer' ? t('我的订阅', 'My subscriptions') : t('订阅', 'Subscriptions'), roles: ['admin', 'steward', 'consumer'] },
      { key: '/dead-letters', label: t('死信记录', 'Dead letters'), roles: ['admin', 'steward'] },
      { key: '/departments', label: t('部门与密级', 'Departments'), roles: ['admin'] },
      { key: '/keys', label: t('API 密钥', 'API keys'), roles: ['admin', 'steward'] },
      { key: '/connectors', label: t('连接器', 'Connectors'), roles: ['admin', 'steward'] },
      { key: '/audit', label: t('审计', 'Audit trail'), roles: ['admin'] },
      { key: '/health', label: t('运行状况', 'Health'), roles: ['admin', 'steward', 'consumer', 'publisher'] },
    ];
    return all.filter((i) => i.roles.includes(me.role)).map(({ key, label: l }) => ({ key, label: <a href={`/console${key}`} onClick={(e) => { e.preventDefault(); navigate(key); }}>{l}</a> }));
  }, [me.role, lang]);
  const selected = items.map((i) => i.key).find((k) => path === k || path.startsWith(`${k}/`)) ?? '';
  const signOut = async (): Promise<void> => {
    await call('DELETE', '/v1/session').catch(() => undefined);
    setCsrfToken(null);
    onSignedOut();
    navigate('/signin', true);
  };
  return (
    <Layout style={{ minHeight: '100vh' }}>
      <Layout.Header style={{ display: 'flex', alignItems: 'center', gap: 24, background: '#8f1d1a' }}>
        <Typography.Text strong style={{ color: '#fff', fontSize: 18, whiteSpace: 'nowrap' }}>
          {t('政务数据共享交换平台', 'govx data exchange')}
        </Typography.Text>
        <div style={{ flex: 1 }} />
        <Space size="middle" style={{ color: '#fff' }}>
          <span data-testid="whoami">
            {me.session?.displayName ?? me.actor} · {lang === 'zh' ? me.department.nameZh : me.department.nameEn} · {label('role', me.role)}
          </span>
          <Segmented size="small" value={lang} onChange={(v) => setLang(v as Lang)} options={[{ label: '中文', value: 'zh' }, { label: 'English', value: 'en' }]} aria-label={t('语言', 'Language')} />
          <Button size="small" onClick={() => void signOut()}>{t('退出', 'Sign out')}</Button>
        </Space>
      </Layout.Header>
      <Layout>
        <Layout.Sider width={200} theme="light" breakpoint="lg" collapsedWidth={0}>
          <nav aria-label={t('导航', 'Navigation')}>
            <Menu mode="inline" selectedKeys={[selected]} items={items} style={{ height: '100%', borderRight: 0 }} />
          </nav>
        </Layout.Sider>
        <Layout.Content style={{ padding: 24 }}>
          <main>
            <Page me={me} path={path} />
          </main>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}

function Page({ me, path }: { me: Me; path: string }) {
  const dataset = /^\/catalog\/([^/]+)(\/edit)?$/.exec(path);
  const request = /^\/request\/([^/]+)$/.exec(path);
  if (path === '/catalog') return <CatalogPage me={me} />;
  if (path === '/catalog/new') return <DatasetCreatePage />;
  if (dataset) return <DatasetPage me={me} id={decodeURIComponent(dataset[1]!)} editing={!!dataset[2]} />;
  if (request) return <RequestPage me={me} id={decodeURIComponent(request[1]!)} />;
  if (path === '/approvals') return <ApprovalsPage me={me} />;
  if (path === '/requests') return <SubscriptionsPage me={me} mode="requests" />;
  if (path === '/subscriptions') return <SubscriptionsPage me={me} mode="subscriptions" />;
  if (path === '/dead-letters') return <DeadLettersPage me={me} />;
  if (path === '/departments') return <DepartmentsPage />;
  if (path === '/keys') return <KeysPage me={me} />;
  if (path === '/connectors') return <ConnectorsPage />;
  if (path === '/audit') return <AuditPage />;
  if (path === '/health') return <HealthPage />;
  return <CatalogPage me={me} />;
}
