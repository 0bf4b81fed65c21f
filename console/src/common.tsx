import { Alert, Empty, Spin, Tag } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { ApiError } from './api';
import { useLabel, useT } from './i18n';

/** An API error as the user should see it: the API's message, its code and the request id. */
export function ErrorBox({ error, onClose }: { error: unknown; onClose?: () => void }) {
  const t = useT();
  if (!error) return null;
  const e = error instanceof ApiError ? error : null;
  return (
    <Alert
      type="error"
      showIcon
      role="alert"
      closable={!!onClose}
      onClose={onClose}
      style={{ marginBottom: 16 }}
      message={e ? e.message : String((error as Error)?.message ?? error)}
      description={e ? <span data-testid="error-code">{t('错误代码', 'Code')}: <code>{e.code}</code>{e.requestId ? ` · ${t('请求号', 'Request')} ${e.requestId}` : ''}</span> : undefined}
    />
  );
}

/** Loads once (and again on reload()), with loading and error states. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export function Loading() {
  const t = useT();
  return (
    <div style={{ padding: 48, textAlign: 'center' }} aria-busy="true">
      <Spin tip={t('加载中…', 'Loading…')}>
        <div style={{ height: 40 }} />
      </Spin>
    </div>
  );
}

export function Nothing({ text }: { text: string }) {
  return <Empty description={text} />;
}

const statusColor: Record<string, string> = { pending: 'gold', approved: 'green', rejected: 'red', revoked: 'volcano', expired: 'default', paused: 'orange' };

export function StatusTag({ status }: { status: string }) {
  const label = useLabel();
  return <Tag color={statusColor[status] ?? 'default'} data-status={status}>{label('subStatus', status)}</Tag>;
}

const deliveryColor: Record<string, string> = { clear: 'blue', partial: 'purple', hash: 'magenta' };
export function DeliveryTag({ delivery }: { delivery: string }) {
  const label = useLabel();
  return <Tag color={deliveryColor[delivery]}>{label('delivery', delivery)}</Tag>;
}

export function SensitivityTag({ level }: { level: number }) {
  const label = useLabel();
  const color = ['default', 'default', 'blue', 'orange', 'red'][level] ?? 'default';
  return <Tag color={color}>{label('sensitivity', level)}</Tag>;
}
