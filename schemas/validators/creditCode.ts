/** Unified social credit code (统一社会信用代码), GB 32100-2015. */
import { describeType, isProvinceCode } from './divisionCode';

/** The 31 code characters: digits and capitals without I, O, Z, S, V (too easily misread). */
export const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

/** GB 32100 weights 3^(i-1) mod 31 for positions 1..17. */
export const USCC_WEIGHTS: readonly number[] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

export interface RegistrationAuthority {
  name: string;
  /** organisation type code (2nd character) → meaning */
  organisationTypes: Readonly<Record<string, string>>;
}

/**
 * Registration authority (1st character) and the organisation types it may issue (2nd character), per the
 * GB 32100-2015 table as extended by the national code centre; real codes from the later authorities are in
 * circulation (law firms are 31…, grassroots trade unions 81…), so refusing them would refuse real entities.
 */
export const registrationAuthorities: Readonly<Record<string, RegistrationAuthority>> = Object.freeze({
  '1': { name: '机构编制', organisationTypes: { '1': '机关', '2': '事业单位', '3': '中央编办直接管理机构编制的群众团体', '9': '其他' } },
  '2': { name: '外交', organisationTypes: { '1': '外国常驻新闻机构', '9': '其他' } },
  '3': {
    name: '司法行政',
    organisationTypes: { '1': '律师执业机构', '2': '公证处', '3': '基层法律服务所', '4': '司法鉴定机构', '5': '仲裁委员会', '9': '其他' },
  },
  '4': { name: '文化', organisationTypes: { '1': '外国在华文化中心', '9': '其他' } },
  '5': { name: '民政', organisationTypes: { '1': '社会团体', '2': '民办非企业单位', '3': '基金会', '9': '其他' } },
  '6': {
    name: '旅游',
    organisationTypes: { '1': '外国旅游部门常驻代表机构', '2': '港澳台地区旅游部门常驻内地（大陆）代表机构', '9': '其他' },
  },
  '7': { name: '宗教', organisationTypes: { '1': '宗教活动场所', '2': '宗教院校', '9': '其他' } },
  '8': { name: '工会', organisationTypes: { '1': '基层工会', '9': '其他' } },
  '9': { name: '工商', organisationTypes: { '1': '企业', '2': '个体工商户', '3': '农民专业合作社' } },
  A: { name: '中央军委改革和编制办公室', organisationTypes: { '1': '军队事业单位', '9': '其他' } },
  N: { name: '农业', organisationTypes: { '1': '组级集体经济组织', '2': '村级集体经济组织', '3': '乡镇级集体经济组织', '9': '其他' } },
  Y: { name: '其他', organisationTypes: { '1': '其他' } },
});

/** Entities registered by a national authority carry the country's code rather than a province's. */
const NATIONAL_DIVISION_CODE = '100000';

/** The check character for the first 17 characters of a code (all must be in the alphabet). */
export function usccCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_ALPHABET.indexOf(first17[i]) * USCC_WEIGHTS[i];
  return USCC_ALPHABET[(31 - (sum % 31)) % 31];
}

function alphabetProblem(value: string): string | null {
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (USCC_ALPHABET.includes(ch)) continue;
    if ('IOZSV'.includes(ch)) return `character ${i + 1} is '${ch}', which GB 32100 excludes (no I, O, Z, S, V)`;
    if (ch >= 'a' && ch <= 'z') return `character ${i + 1} is lowercase '${ch}'; GB 32100 codes use capitals only`;
    return `character ${i + 1} is '${ch}', which is not in the GB 32100 alphabet (0-9, A-Z without I, O, Z, S, V)`;
  }
  return null;
}

function authorityProblem(value: string): string | null {
  const authorityCode = value[0];
  if (!Object.hasOwn(registrationAuthorities, authorityCode)) {
    const known = Object.keys(registrationAuthorities).join(', ');
    return `registration authority code '${authorityCode}' is not in the GB 32100 table (${known})`;
  }
  const authority = registrationAuthorities[authorityCode];
  const typeCode = value[1];
  if (!Object.hasOwn(authority.organisationTypes, typeCode)) {
    const allowed = Object.keys(authority.organisationTypes).join(', ');
    return `organisation type '${typeCode}' is not valid for registration authority ${authorityCode} (${authority.name}); expected one of ${allowed} (GB 32100)`;
  }
  return null;
}

function divisionProblem(value: string): string | null {
  const division = value.slice(2, 8);
  if (!/^[0-9]{6}$/.test(division)) {
    return `characters 3-8 must be a 6-digit administrative division code, got '${division}' (GB 32100)`;
  }
  if (division !== NATIONAL_DIVISION_CODE && !isProvinceCode(division.slice(0, 2))) {
    return `characters 3-8 '${division}' start with ${division.slice(0, 2)}, which is not a province-level code (GB/T 2260)`;
  }
  return null;
}

/** GB 32100 unified social credit code: null when valid, else which rule it breaks. */
export function checkCreditCode(value: unknown): string | null {
  if (typeof value !== 'string') return `unified social credit code must be a string, got ${describeType(value)} (GB 32100)`;
  if (value.length !== 18) return `unified social credit code must be 18 characters, got ${value.length} (GB 32100)`;
  const problem = alphabetProblem(value) ?? authorityProblem(value) ?? divisionProblem(value);
  if (problem) return problem;
  const expected = usccCheckChar(value);
  if (value[17] !== expected) return `check character is ${value[17]}, expected ${expected} (GB 32100)`;
  return null;
}
