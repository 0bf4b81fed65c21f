import { createContext, useContext } from 'react';

/** zh-CN first, English beside it: every text is written in both where it is used. */
export type Lang = 'zh' | 'en';

export const LangContext = createContext<{ lang: Lang; setLang: (l: Lang) => void }>({ lang: 'zh', setLang: () => undefined });

export function useT(): (zh: string, en: string) => string {
  const { lang } = useContext(LangContext);
  return (zh, en) => (lang === 'zh' ? zh : en);
}

export function useLang(): Lang {
  return useContext(LangContext).lang;
}

/** A time in the user's own zone, with the zone named. */
export function formatTime(iso: string | null | undefined, lang: Lang): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
  }).format(d);
}

export function waited(iso: string, lang: Lang): string {
  const ms = Date.now() - new Date(iso).getTime();
  const h = Math.floor(ms / 3_600_000);
  const d = Math.floor(h / 24);
  if (lang === 'zh') return d > 0 ? `${d} 天 ${h % 24} 小时` : h > 0 ? `${h} 小时` : `${Math.max(1, Math.floor(ms / 60_000))} 分钟`;
  return d > 0 ? `${d} d ${h % 24} h` : h > 0 ? `${h} h` : `${Math.max(1, Math.floor(ms / 60_000))} min`;
}

export const labels = {
  role: { publisher: ['发布者', 'Publisher'], consumer: ['使用方', 'Consumer'], steward: ['数据管理员', 'Steward'], admin: ['目录管理员', 'Administrator'] },
  sharingType: { unconditional: ['无条件共享', 'Unconditional'], conditional: ['有条件共享', 'Conditional'], none: ['不予共享', 'Not shared'] },
  category: {
    population: ['人口', 'Population'], 'legal-entity': ['法人', 'Legal entity'], 'natural-resources-geospatial': ['自然资源和空间地理', 'Natural resources & geospatial'],
    'macro-economy': ['宏观经济', 'Macro-economy'], credit: ['信用', 'Credit'], 'electronic-license': ['电子证照', 'Electronic licences'],
    'social-services': ['社会服务', 'Social services'], other: ['其他', 'Other'],
  },
  status: { draft: ['草稿', 'Draft'], active: ['已发布', 'Active'], deprecated: ['已弃用', 'Deprecated'], retired: ['已下线', 'Retired'] },
  updateCycle: { realtime: ['实时', 'Realtime'], daily: ['每日', 'Daily'], weekly: ['每周', 'Weekly'], monthly: ['每月', 'Monthly'], quarterly: ['每季度', 'Quarterly'], yearly: ['每年', 'Yearly'] },
  masking: { none: ['不脱敏', 'None'], hash: ['哈希', 'Keyed hash'], partial: ['部分遮盖', 'Partial'] },
  delivery: { clear: ['明文', 'Clear'], hash: ['哈希', 'Keyed hash'], partial: ['部分遮盖', 'Partial'] },
  subStatus: { pending: ['待审批', 'Pending'], approved: ['已批准', 'Approved'], rejected: ['已驳回', 'Rejected'], revoked: ['已撤销', 'Revoked'], expired: ['已到期', 'Expired'], paused: ['已暂停', 'Paused'] },
  sensitivity: { 1: ['1 公开', '1 Public'], 2: ['2 内部', '2 Internal'], 3: ['3 敏感', '3 Sensitive'], 4: ['4 高度敏感', '4 Highly sensitive'] },
} as const;

export function useLabel(): <G extends keyof typeof labels>(group: G, value: string | number | null | undefined) => string {
  const lang = useLang();
  return (group, value) => {
    const entry = (labels[group] as Record<string, readonly [string, string]>)[String(value)];
    return entry ? entry[lang === 'zh' ? 0 : 1] : String(value ?? '—');
  };
}
