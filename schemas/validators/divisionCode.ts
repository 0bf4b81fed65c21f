/**
 * Administrative division codes (GB/T 2260): the province table, a few real districts for sample data, and
 * the check of a code against the official list (see divisionRegistry.ts for where that list comes from).
 */
import { divisionRegistry } from './divisionRegistry';

/** Province-level divisions (省级行政区), code → name, as in GB/T 2260. */
export const provinces: Readonly<Record<string, string>> = Object.freeze({
  '11': '北京市',
  '12': '天津市',
  '13': '河北省',
  '14': '山西省',
  '15': '内蒙古自治区',
  '21': '辽宁省',
  '22': '吉林省',
  '23': '黑龙江省',
  '31': '上海市',
  '32': '江苏省',
  '33': '浙江省',
  '34': '安徽省',
  '35': '福建省',
  '36': '江西省',
  '37': '山东省',
  '41': '河南省',
  '42': '湖北省',
  '43': '湖南省',
  '44': '广东省',
  '45': '广西壮族自治区',
  '46': '海南省',
  '50': '重庆市',
  '51': '四川省',
  '52': '贵州省',
  '53': '云南省',
  '54': '西藏自治区',
  '61': '陕西省',
  '62': '甘肃省',
  '63': '青海省',
  '64': '宁夏回族自治区',
  '65': '新疆维吾尔自治区',
  '71': '台湾省',
  '81': '香港特别行政区',
  '82': '澳门特别行政区',
});

export interface District {
  /** 6-digit GB/T 2260 code */
  code: string;
  /** e.g. 海淀区 */
  name: string;
  /** e.g. 北京市, 广州市 */
  city: string;
  /** e.g. 北京市, 广东省 */
  province: string;
}

function districtsOf(city: string, entries: ReadonlyArray<readonly [string, string]>): District[] {
  return entries.map(([code, name]) => ({ code, name, city, province: provinces[code.slice(0, 2)] ?? city }));
}

/** Current districts (市辖区) of Beijing, Shanghai and Guangzhou. */
export const districts: readonly District[] = Object.freeze([
  // 110103 崇文区 and 110104 宣武区 were merged away in 2010; 110110 was never assigned.
  ...districtsOf('北京市', [
    ['110101', '东城区'],
    ['110102', '西城区'],
    ['110105', '朝阳区'],
    ['110106', '丰台区'],
    ['110107', '石景山区'],
    ['110108', '海淀区'],
    ['110109', '门头沟区'],
    ['110111', '房山区'],
    ['110112', '通州区'],
    ['110113', '顺义区'],
    ['110114', '昌平区'],
    ['110115', '大兴区'],
    ['110116', '怀柔区'],
    ['110117', '平谷区'],
    ['110118', '密云区'],
    ['110119', '延庆区'],
  ]),
  ...districtsOf('上海市', [
    ['310101', '黄浦区'],
    ['310104', '徐汇区'],
    ['310105', '长宁区'],
    ['310106', '静安区'],
    ['310107', '普陀区'],
    ['310109', '虹口区'],
    ['310110', '杨浦区'],
    ['310112', '闵行区'],
    ['310115', '浦东新区'],
  ]),
  ...districtsOf('广州市', [
    ['440103', '荔湾区'],
    ['440104', '越秀区'],
    ['440105', '海珠区'],
    ['440106', '天河区'],
    ['440111', '白云区'],
    ['440113', '番禺区'],
  ]),
]);

export function isProvinceCode(twoDigits: string): boolean {
  return Object.hasOwn(provinces, twoDigits);
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

export interface DivisionCheckContext {
  /** the time the record speaks of: a code abolished before it is refused, one abolished after it is accepted */
  asOf?: Date;
}

/**
 * GB/T 2260 administrative division code: 6 digits naming a province, prefecture or county-level division
 * that exists, or that existed at `asOf` (divisions are merged and renamed; old records keep their codes).
 * Without `asOf`, a code that was valid at some time is accepted.
 */
export function checkDivisionCode(value: unknown, context: DivisionCheckContext = {}): string | null {
  if (typeof value !== 'string') return `division code must be a string, got ${describeType(value)} (GB/T 2260)`;
  if (!/^[0-9]{6}$/.test(value)) {
    return value.length !== 6
      ? `division code must be exactly 6 digits, got ${value.length} characters (GB/T 2260)`
      : 'division code must be exactly 6 digits, got a non-digit character (GB/T 2260)';
  }
  const prefix = value.slice(0, 2);
  if (!isProvinceCode(prefix)) {
    return `division code ${value} starts with ${prefix}, which is not a province-level code (GB/T 2260)`;
  }
  const division = divisionRegistry().lookup(value);
  if (!division) return `division code ${value} is not an administrative division in GB/T 2260`;
  const year = context.asOf ? chinaYear(context.asOf) : null;
  if (division.abolishedIn !== null && year !== null && year > division.abolishedIn) {
    const now = division.successors.map((code) => `${code} ${divisionRegistry().lookup(code)?.name ?? ''}`.trim()).join(', ');
    return `division code ${value} (${division.fullName}) was abolished in ${division.abolishedIn}${now ? ` (now ${now})` : ''}; a record of ${year} must use the current code (GB/T 2260)`;
  }
  return null;
}

const CHINA_OFFSET_MS = 8 * 3_600_000;
const chinaYear = (at: Date): number => new Date(at.getTime() + CHINA_OFFSET_MS).getUTCFullYear();

/** The division's full name, e.g. 北京市海淀区; abolished divisions say so. null for an unknown code. */
export function divisionName(code: string): string | null {
  const division = divisionRegistry().lookup(code);
  if (!division) return null;
  return division.abolishedIn === null ? division.fullName : `${division.fullName}（${division.abolishedIn}年撤销）`;
}
