/**
 * Deterministic, realistic sample records for the seed datasets, in the natural JSON the gateway accepts:
 * plain values for nullable unions, YYYY-MM-DD dates, ISO 8601 timestamps, decimals as strings.
 */
import { USCC_ALPHABET, usccCheckChar } from '../validators/creditCode';
import { districts, type District } from '../validators/divisionCode';
import { idNumberCheckChar } from '../validators/idNumber';

export type SampleRecord = Record<string, unknown>;

export interface SampleOptions {
  /** "now" for the data: birth dates, establishment dates and update times all lie before it */
  asOf?: Date;
}

/** A fixed "now" by default, so that a seed alone decides the output. */
export const DEFAULT_SAMPLE_AS_OF = new Date('2025-12-31T16:00:00.000Z');

const MAX_SAMPLE_COUNT = 1_000_000;
const DAY_MS = 86_400_000;

// ---------------------------------------------------------------------------------------------- randomness

/** mulberry32: tiny, fast and good enough for sample data; not for anything secret. */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = Math.floor(seed) >>> 0;
  }

  /** uniform in [0, 1) */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** uniform integer in [min, max] */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  weighted<T>(entries: ReadonlyArray<readonly [T, number]>): T {
    const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
    let roll = this.next() * total;
    for (const [item, weight] of entries) {
      roll -= weight;
      if (roll < 0) return item;
    }
    return entries[entries.length - 1][0];
  }

  digits(length: number): string {
    let text = '';
    for (let i = 0; i < length; i++) text += String(this.int(0, 9));
    return text;
  }
}

// ---------------------------------------------------------------------------------------------- dates

const isoDate = (date: Date): string => date.toISOString().slice(0, 10);
const compactDate = (date: Date): string => isoDate(date).replace(/-/g, '');
const startOfUtcDay = (date: Date): Date => new Date(Math.floor(date.getTime() / DAY_MS) * DAY_MS);
const addDays = (date: Date, days: number): Date => new Date(date.getTime() + days * DAY_MS);

function addYears(date: Date, years: number): Date {
  const shifted = new Date(date.getTime());
  shifted.setUTCFullYear(shifted.getUTCFullYear() + years);
  return shifted;
}

function randomDay(random: SeededRandom, from: Date, to: Date): Date {
  const first = startOfUtcDay(from).getTime() / DAY_MS;
  const last = startOfUtcDay(to).getTime() / DAY_MS;
  return new Date(random.int(first, Math.max(first, last)) * DAY_MS);
}

function randomInstant(random: SeededRandom, from: Date, to: Date): string {
  return new Date(random.int(from.getTime(), Math.max(from.getTime(), to.getTime()))).toISOString();
}

function ageOn(birth: Date, day: Date): number {
  const years = day.getUTCFullYear() - birth.getUTCFullYear();
  const beforeBirthday =
    day.getUTCMonth() < birth.getUTCMonth() || (day.getUTCMonth() === birth.getUTCMonth() && day.getUTCDate() < birth.getUTCDate());
  return beforeBirthday ? years - 1 : years;
}

/** An update time in the last few years, never before the thing existed. */
function updatedAt(random: SeededRandom, since: Date, asOf: Date): string {
  const recent = addYears(asOf, -3);
  return randomInstant(random, since > recent ? since : recent, asOf);
}

// ---------------------------------------------------------------------------------------------- places

/** Street names per district, to build addresses that exist in shape if not door by door. */
const streetsByDistrict: Readonly<Record<string, readonly string[]>> = {
  '110101': ['东长安街', '王府井大街', '东四北大街', '和平里西街', '安定门内大街'],
  '110102': ['西长安街', '金融大街', '德胜门外大街', '月坛北街', '西直门内大街'],
  '110105': ['建国路', '朝阳北路', '望京街', '亮马桥路', '东三环中路'],
  '110106': ['丰台北路', '方庄路', '南四环西路', '草桥东路'],
  '110107': ['石景山路', '鲁谷路', '古城大街', '八角东街'],
  '110108': ['中关村大街', '学院路', '知春路', '海淀大街', '上地十街'],
  '110109': ['新桥大街', '石龙北路', '滨河路'],
  '110111': ['拱辰大街', '苏庄大街', '良乡东路'],
  '110112': ['新华大街', '玉桥中路', '运河西大街', '九棵树东路'],
  '110113': ['新顺南大街', '府前东街', '站前北街'],
  '110114': ['回龙观西大街', '府学路', '政府街', '立汤路'],
  '110115': ['兴华大街', '黄村西大街', '荣华中路', '金星路'],
  '110116': ['青春路', '府前街', '迎宾路'],
  '110117': ['府前街', '新平北路', '林荫北街'],
  '110118': ['鼓楼大街', '新中街', '滨河路'],
  '110119': ['妫水北街', '东外大街', '高塔街'],
  '310101': ['南京东路', '淮海中路', '西藏中路', '中山东一路'],
  '310104': ['漕溪北路', '衡山路', '肇嘉浜路', '天钥桥路'],
  '310105': ['延安西路', '天山路', '虹桥路', '仙霞路'],
  '310106': ['南京西路', '共和新路', '延长中路', '万航渡路'],
  '310107': ['中山北路', '真北路', '曹杨路', '武宁路'],
  '310109': ['四川北路', '大连路', '曲阳路', '四平路'],
  '310110': ['国权路', '黄兴路', '控江路', '长阳路'],
  '310112': ['都市路', '七莘路', '沪闵路', '莘松路'],
  '310115': ['世纪大道', '张杨路', '浦东南路', '锦绣路'],
  '440103': ['中山八路', '芳村大道中', '龙津西路', '黄沙大道'],
  '440104': ['中山五路', '北京路', '环市东路', '东风中路'],
  '440105': ['江南大道中', '新港中路', '工业大道北', '宝岗大道'],
  '440106': ['天河路', '体育西路', '花城大道', '天河北路'],
  '440111': ['白云大道北', '机场路', '广园中路', '黄石东路'],
  '440113': ['清河东路', '番禺大道北', '桥兴大道', '兴南大道'],
};

/** Rough centre (longitude, latitude) of each Beijing district, where its sample buildings stand. */
const beijingDistrictCentres: Readonly<Record<string, readonly [number, number]>> = {
  '110101': [116.416, 39.928],
  '110102': [116.366, 39.912],
  '110105': [116.443, 39.921],
  '110106': [116.287, 39.858],
  '110107': [116.223, 39.906],
  '110108': [116.298, 39.959],
  '110109': [116.102, 39.94],
  '110111': [116.143, 39.748],
  '110112': [116.657, 39.909],
  '110113': [116.654, 40.13],
  '110114': [116.231, 40.22],
  '110115': [116.341, 39.727],
  '110116': [116.632, 40.316],
  '110117': [117.121, 40.141],
  '110118': [116.843, 40.377],
  '110119': [115.975, 40.457],
};

/** Court abbreviation (简称) by province, as used in case numbers. */
const provinceAbbreviations: Readonly<Record<string, string>> = { '11': '京', '31': '沪', '44': '粤' };

const beijingDistricts = districts.filter((d) => d.code.startsWith('11'));
const ruralBeijingDistricts = beijingDistricts.filter((d) => Number(d.code.slice(4)) >= 9);

const cityShortName = (district: District): string => district.city.replace(/市$/, '');
const districtShortName = (district: District): string => district.name.replace(/新区$|区$/, '');
/** Household addresses carry the province before a prefecture-level city; municipalities are their own province. */
const householdPrefix = (district: District): string =>
  district.province === district.city ? district.city : `${district.province}${district.city}`;
const streetOf = (random: SeededRandom, district: District): string => random.pick(streetsByDistrict[district.code] ?? ['人民路']);

function homeAddress(random: SeededRandom, district: District): string {
  const street = streetOf(random, district);
  const floor = random.int(1, 18);
  const room = `${floor}${String(random.int(1, 4)).padStart(2, '0')}`;
  const place = `${householdPrefix(district)}${district.name}${street}`;
  if (district.city === '北京市') return `${place}${random.int(1, 120)}号院${random.int(1, 16)}号楼${random.int(1, 6)}单元${room}室`;
  if (district.city === '上海市') return `${place}${random.int(1, 1500)}弄${random.int(1, 40)}号${room}室`;
  return `${place}${random.int(1, 800)}号${room}房`;
}

function businessAddress(random: SeededRandom, district: District): string {
  const place = `${district.city}${district.name}${streetOf(random, district)}${random.int(1, 600)}号`;
  const floor = random.int(1, 28);
  if (random.chance(0.3)) return `${place}${random.int(1, 12)}幢${floor}层${floor}${String(random.int(1, 20)).padStart(2, '0')}室`;
  return `${place}${floor}层${floor}${String(random.int(1, 20)).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------------- people

/** The most common surnames, weighted roughly by how many people bear them. */
const surnames: ReadonlyArray<readonly [string, number]> = [
  ['王', 72], ['李', 70], ['张', 66], ['刘', 53], ['陈', 45], ['杨', 33], ['黄', 24], ['赵', 21], ['吴', 20], ['周', 19],
  ['徐', 15], ['孙', 14], ['马', 13], ['朱', 13], ['胡', 12], ['郭', 11], ['何', 11], ['高', 10], ['林', 10], ['罗', 9],
  ['郑', 9], ['梁', 9], ['谢', 8], ['宋', 7], ['唐', 7], ['许', 7], ['韩', 6], ['冯', 6], ['邓', 6], ['曹', 6],
  ['彭', 5], ['曾', 5], ['肖', 5], ['田', 5], ['董', 5], ['袁', 4], ['潘', 4], ['于', 4], ['蒋', 4], ['蔡', 4],
  ['余', 4], ['杜', 4], ['叶', 4], ['程', 4], ['苏', 3], ['魏', 3], ['吕', 3], ['丁', 3], ['任', 3], ['沈', 3],
  ['姚', 3], ['卢', 3], ['姜', 3], ['崔', 2], ['钟', 2], ['谭', 2], ['陆', 2], ['汪', 2], ['范', 2], ['金', 2],
  ['石', 2], ['廖', 2], ['贾', 2], ['夏', 2], ['韦', 2], ['付', 2], ['方', 2], ['白', 2], ['邹', 2], ['孟', 2],
  ['熊', 2], ['秦', 2], ['邱', 2], ['江', 2], ['尹', 2], ['薛', 1], ['闫', 1], ['段', 1], ['雷', 1], ['侯', 1],
  ['龙', 1], ['史', 1], ['陶', 1], ['黎', 1], ['贺', 1], ['顾', 1], ['毛', 1], ['郝', 1], ['龚', 1], ['邵', 1],
  ['欧阳', 0.5], ['司马', 0.1], ['诸葛', 0.1],
];
const maleNameCharacters = [...'伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙林阳建国志文博轩睿晨航毅峰亮成'];
const femaleNameCharacters = [...'芳娜敏静丽艳娟霞秀玲英婷雪慧颖琳晶倩洁佳欣怡梦雨萱涵诗思悦瑶蕾蓉薇燕红梅兰月'];
const neutralNameCharacters = [...'子晓一嘉文雨思佳欣安宇立春秋海天'];

type Gender = 'MALE' | 'FEMALE';

function personName(random: SeededRandom, gender: Gender): string {
  const ownCharacters = gender === 'MALE' ? maleNameCharacters : femaleNameCharacters;
  const surname = random.weighted(surnames);
  if (random.chance(0.3)) return surname + random.pick(ownCharacters);
  const first = random.chance(0.35) ? random.pick(neutralNameCharacters) : random.pick(ownCharacters);
  return surname + first + random.pick(ownCharacters);
}

interface Person {
  name: string;
  gender: Gender;
  birthDate: Date;
  district: District;
  idNumber: string;
}

/** GB 11643: address code, birth date, 3-digit sequence whose last digit is odd for men, check character. */
function idNumberFor(random: SeededRandom, district: District, birthDate: Date, gender: Gender): string {
  const genderDigit = random.pick(gender === 'MALE' ? [1, 3, 5, 7, 9] : [0, 2, 4, 6, 8]);
  const first17 = `${district.code}${compactDate(birthDate)}${random.digits(2)}${genderDigit}`;
  return first17 + idNumberCheckChar(first17);
}

function randomPerson(random: SeededRandom, bornFrom: Date, bornTo: Date, district = random.pick(districts)): Person {
  const gender: Gender = random.chance(0.5) ? 'MALE' : 'FEMALE';
  const birthDate = randomDay(random, bornFrom, bornTo);
  return { name: personName(random, gender), gender, birthDate, district, idNumber: idNumberFor(random, district, birthDate, gender) };
}

/** A person whose age on `day` lies in [minAge, maxAge]. */
function personAged(random: SeededRandom, day: Date, minAge: number, maxAge: number, district?: District): Person {
  return randomPerson(random, addDays(addYears(day, -maxAge - 1), 1), addYears(day, -minAge), district);
}

function mobileNumber(random: SeededRandom): string {
  const prefix = random.pick(['130', '131', '132', '133', '135', '136', '137', '138', '139', '150', '151', '152', '155', '156', '157', '158', '159', '166', '177', '180', '181', '186', '187', '188', '189', '191', '198', '199']);
  return prefix + random.digits(8);
}

const ethnicities: ReadonlyArray<readonly [string, number]> = [
  ['汉族', 91], ['壮族', 1.4], ['回族', 0.8], ['满族', 0.8], ['维吾尔族', 0.8], ['苗族', 0.8], ['彝族', 0.7],
  ['土家族', 0.7], ['藏族', 0.5], ['蒙古族', 0.5], ['朝鲜族', 0.2], ['白族', 0.2],
];

type MaritalStatus = 'UNMARRIED' | 'MARRIED' | 'DIVORCED' | 'WIDOWED';

function maritalStatus(random: SeededRandom, age: number, gender: Gender): MaritalStatus | null {
  const legalAge = gender === 'MALE' ? 22 : 20;
  if (age < legalAge) return 'UNMARRIED';
  if (random.chance(0.05)) return null;
  if (age < 30) return random.weighted([['UNMARRIED', 55], ['MARRIED', 42], ['DIVORCED', 3]]);
  if (age < 60) return random.weighted([['MARRIED', 80], ['UNMARRIED', 8], ['DIVORCED', 10], ['WIDOWED', 2]]);
  return random.weighted([['MARRIED', 70], ['WIDOWED', 22], ['DIVORCED', 5], ['UNMARRIED', 3]]);
}

// ---------------------------------------------------------------------------------------------- population.residents

function residentRecord(random: SeededRandom, asOf: Date): SampleRecord {
  const [minAge, maxAge] = random.weighted<readonly [number, number]>([[[0, 17], 18], [[18, 34], 25], [[35, 59], 37], [[60, 95], 20]]);
  const person = personAged(random, addDays(asOf, -1), minAge, maxAge);
  const age = ageOn(person.birthDate, asOf);
  return {
    id_number: person.idNumber,
    name: person.name,
    gender: person.gender,
    ethnicity: random.chance(0.03) ? null : random.weighted(ethnicities),
    birth_date: isoDate(person.birthDate),
    household_district: person.district.code,
    address: homeAddress(random, person.district),
    phone: age >= 12 && random.chance(0.9) ? mobileNumber(random) : null,
    marital_status: maritalStatus(random, age, person.gender),
    updated_at: updatedAt(random, person.birthDate, asOf),
  };
}

// ---------------------------------------------------------------------------------------------- legal-entity.registry

type EntityType =
  | 'LIMITED_LIABILITY_COMPANY'
  | 'JOINT_STOCK_COMPANY'
  | 'STATE_OWNED_ENTERPRISE'
  | 'COLLECTIVE_ENTERPRISE'
  | 'SOLE_PROPRIETORSHIP'
  | 'PARTNERSHIP'
  | 'FOREIGN_INVESTED_ENTERPRISE'
  | 'BRANCH'
  | 'INDIVIDUAL_BUSINESS'
  | 'FARMERS_COOPERATIVE';

const entityTypes: ReadonlyArray<readonly [EntityType, number]> = [
  ['LIMITED_LIABILITY_COMPANY', 55],
  ['INDIVIDUAL_BUSINESS', 15],
  ['BRANCH', 8],
  ['PARTNERSHIP', 5],
  ['JOINT_STOCK_COMPANY', 4],
  ['SOLE_PROPRIETORSHIP', 4],
  ['FOREIGN_INVESTED_ENTERPRISE', 4],
  ['FARMERS_COOPERATIVE', 2],
  ['STATE_OWNED_ENTERPRISE', 2],
  ['COLLECTIVE_ENTERPRISE', 1],
];

const tradeNameFirst = [...'华中博天恒瑞金鼎汇嘉星明东泰宏睿广新同智安永盛云青百九润德元海正信鸿卓启'];
const tradeNameSecond = [...'信科远诚泰丰桥盛通禾辰德方和图智源锐创联康业世帆川州达升晟宇成航合捷越'];
const tradeName = (random: SeededRandom): string => random.pick(tradeNameFirst) + random.pick(tradeNameSecond);

const scopeTail = '（依法须经批准的项目，经相关部门批准后方可开展经营活动）';

const industries: ReadonlyArray<readonly [string, string]> = [
  ['科技', '技术开发、技术咨询、技术交流、技术转让、技术推广；软件开发；计算机系统服务；销售计算机、软件及辅助设备。'],
  ['信息技术', '信息系统集成服务；数据处理和存储支持服务；软件开发；信息技术咨询服务。'],
  ['商贸', '销售日用品、服装、鞋帽、五金交电、电子产品；货物进出口；技术进出口。'],
  ['餐饮管理', '餐饮管理；餐饮服务；食品经营；酒店管理。'],
  ['建筑工程', '施工总承包；专业承包；劳务分包；建筑材料销售；工程管理服务。'],
  ['文化传媒', '组织文化艺术交流活动；广告设计、代理、制作、发布；会议及展览服务。'],
  ['医疗器械', '销售第一类医疗器械、第二类医疗器械；医疗器械技术开发、技术服务。'],
  ['物流', '道路货物运输；国内货物运输代理；仓储服务（不含危险化学品）；装卸搬运。'],
  ['企业管理咨询', '企业管理咨询；经济贸易咨询；市场调查；会议服务。'],
  ['物业管理', '物业管理；停车场服务；家政服务；城市绿化管理。'],
  ['环保科技', '环保技术开发、技术服务；污水处理及其再生利用；大气污染治理；固体废物治理。'],
  ['教育科技', '教育咨询服务（不含涉许可审批的教育培训活动）；技术开发；组织文化艺术交流活动。'],
];

const shops: ReadonlyArray<readonly [string, string]> = [
  ['便利店', '零售预包装食品、散装食品、日用品、烟草制品。'],
  ['餐馆', '餐饮服务。'],
  ['水果店', '销售新鲜水果、新鲜蔬菜。'],
  ['理发店', '理发服务。'],
  ['五金店', '销售五金交电、建筑材料、日用杂品。'],
  ['洗衣店', '洗衣服务。'],
  ['文印部', '打字、复印；图文设计、制作。'],
  ['服装店', '销售服装、鞋帽、针纺织品。'],
];

const cooperativeProducts: ReadonlyArray<readonly [string, string]> = [
  ['大桃种植', '大桃'],
  ['蔬菜种植', '蔬菜'],
  ['板栗种植', '板栗'],
  ['苹果种植', '苹果'],
  ['生猪养殖', '生猪'],
  ['蜂产品产销', '蜂产品'],
];

/** GB 11714 organization code check character, over digits and capitals (A = 10 … Z = 35). */
function organizationCodeCheckChar(first8: string): string {
  const weights = [3, 7, 9, 10, 5, 8, 4, 2];
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += parseInt(first8[i], 36) * weights[i];
  const check = 11 - (sum % 11);
  return check === 10 ? 'X' : check === 11 ? '0' : String(check);
}

/** The 9-character subject identifier: an old 8-digit organization code, or the "MA…" form issued since 2015. */
function subjectIdentifier(random: SeededRandom, established: Date): string {
  const body =
    established.getUTCFullYear() < 2016
      ? String(random.int(1, 9)) + random.digits(7)
      : 'MA' + random.pick([...'0123']) + Array.from({ length: 5 }, () => random.pick([...USCC_ALPHABET])).join('');
  return body + organizationCodeCheckChar(body);
}

function usccFor(random: SeededRandom, entityType: EntityType, district: District, established: Date): string {
  const organisationType = entityType === 'INDIVIDUAL_BUSINESS' ? '2' : entityType === 'FARMERS_COOPERATIVE' ? '3' : '1';
  const first17 = `9${organisationType}${district.code}${subjectIdentifier(random, established)}`;
  return first17 + usccCheckChar(first17);
}

const roundAmount = (random: SeededRandom, amounts: readonly number[]): number => random.pick(amounts);

function registeredCapital(random: SeededRandom, entityType: EntityType): { amount: string | null; currency: string } {
  const yuan = (value: number): string => `${value}.00`;
  switch (entityType) {
    case 'BRANCH':
      return { amount: null, currency: 'CNY' };
    case 'FOREIGN_INVESTED_ENTERPRISE':
      return { amount: yuan(roundAmount(random, [100_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000])), currency: random.weighted([['USD', 6], ['HKD', 3], ['EUR', 1]]) };
    case 'JOINT_STOCK_COMPANY':
      return { amount: yuan(random.int(50_000_000, 2_000_000_000)), currency: 'CNY' };
    case 'STATE_OWNED_ENTERPRISE':
      return { amount: yuan(roundAmount(random, [1_000_000, 5_000_000, 20_000_000, 100_000_000, 500_000_000])), currency: 'CNY' };
    case 'INDIVIDUAL_BUSINESS':
      return { amount: yuan(roundAmount(random, [10_000, 20_000, 30_000, 50_000, 100_000, 200_000])), currency: 'CNY' };
    case 'SOLE_PROPRIETORSHIP':
    case 'COLLECTIVE_ENTERPRISE':
    case 'FARMERS_COOPERATIVE':
      return { amount: yuan(roundAmount(random, [50_000, 100_000, 300_000, 500_000, 1_000_000, 2_000_000])), currency: 'CNY' };
    case 'PARTNERSHIP':
      return { amount: yuan(roundAmount(random, [1_000_000, 5_000_000, 10_000_000, 30_000_000, 100_000_000])), currency: 'CNY' };
    case 'LIMITED_LIABILITY_COMPANY':
      return { amount: yuan(roundAmount(random, [100_000, 300_000, 500_000, 1_000_000, 2_000_000, 3_000_000, 5_000_000, 10_000_000, 50_000_000])), currency: 'CNY' };
  }
}

/** Name and business scope as a register would show them for this kind of entity. */
function entityNameAndScope(random: SeededRandom, entityType: EntityType, district: District): { name: string; scope: string } {
  const trade = tradeName(random);
  const city = cityShortName(district);
  const local = `${district.city}${district.name}`;
  if (entityType === 'INDIVIDUAL_BUSINESS') {
    const [shop, scope] = random.pick(shops);
    return { name: `${local}${trade}${shop}`, scope };
  }
  if (entityType === 'FARMERS_COOPERATIVE') {
    const [activity, product] = random.pick(cooperativeProducts);
    const scope = `组织采购、供应成员所需的生产资料；组织收购、销售成员生产的${product}；开展与${activity}有关的技术培训、技术交流和信息咨询服务。`;
    return { name: `${local}${trade}${activity}专业合作社`, scope: scope + scopeTail };
  }
  const [industry, industryScope] = random.pick(industries);
  const scope = industryScope + scopeTail;
  switch (entityType) {
    case 'JOINT_STOCK_COMPANY':
      return { name: `${city}${trade}${industry}股份有限公司`, scope };
    case 'STATE_OWNED_ENTERPRISE':
      return { name: `${district.city}${trade}${industry}公司`, scope };
    case 'COLLECTIVE_ENTERPRISE':
      return { name: `${local}${trade}${industry}厂`, scope };
    case 'SOLE_PROPRIETORSHIP':
      return { name: `${local}${trade}${industry}中心`, scope };
    case 'PARTNERSHIP':
      return { name: `${city}${trade}${industry}合伙企业（有限合伙）`, scope };
    case 'BRANCH': {
      const parent = random.pick(districts);
      const branch = parent.city === district.city ? districtShortName(district) : city;
      return { name: `${cityShortName(parent)}${trade}${industry}有限公司${branch}分公司`, scope };
    }
    default:
      return { name: `${city}${trade}${industry}有限公司`, scope };
  }
}

function legalEntityRecord(random: SeededRandom, asOf: Date): SampleRecord {
  const entityType = random.weighted(entityTypes);
  const district = entityType === 'FARMERS_COOPERATIVE' ? random.pick(ruralBeijingDistricts) : random.pick(districts);
  const established = randomDay(random, new Date('1992-01-01T00:00:00Z'), addDays(asOf, -1));
  const { name, scope } = entityNameAndScope(random, entityType, district);
  const capital = registeredCapital(random, entityType);
  const yearsOld = asOf.getUTCFullYear() - established.getUTCFullYear();
  return {
    uscc: usccFor(random, entityType, district, established),
    name,
    entity_type: entityType,
    legal_representative: personName(random, random.chance(0.65) ? 'MALE' : 'FEMALE'),
    registered_capital: capital.amount,
    currency: capital.currency,
    established_date: isoDate(established),
    registration_authority: `${district.city}${district.name}市场监督管理局`,
    district: district.code,
    address: businessAddress(random, district),
    business_scope: scope,
    status:
      yearsOld < 2
        ? 'ACTIVE'
        : random.weighted([['ACTIVE', 85], ['CANCELLED', 7], ['REVOKED', 4], ['MOVED_OUT', 2], ['SUSPENDED', 2]]),
    updated_at: updatedAt(random, established, asOf),
  };
}

// ---------------------------------------------------------------------------------------------- geospatial.buildings

type BuildingUse = 'RESIDENTIAL' | 'COMMERCIAL' | 'OFFICE' | 'INDUSTRIAL' | 'PUBLIC_SERVICE' | 'EDUCATION' | 'MEDICAL' | 'MIXED' | 'OTHER';

interface BuildingProfile {
  weight: number;
  floors: readonly [number, number];
  storeyHeightM: readonly [number, number];
  /** footprint width and length ranges in metres */
  widthM: readonly [number, number];
  lengthM: readonly [number, number];
}

const buildingProfiles: Readonly<Record<BuildingUse, BuildingProfile>> = {
  RESIDENTIAL: { weight: 45, floors: [6, 33], storeyHeightM: [2.8, 3.0], widthM: [12, 16], lengthM: [40, 80] },
  OFFICE: { weight: 10, floors: [5, 35], storeyHeightM: [3.8, 4.2], widthM: [30, 60], lengthM: [30, 60] },
  COMMERCIAL: { weight: 10, floors: [1, 6], storeyHeightM: [4.5, 5.5], widthM: [40, 100], lengthM: [50, 120] },
  INDUSTRIAL: { weight: 8, floors: [1, 3], storeyHeightM: [6, 9], widthM: [30, 80], lengthM: [60, 150] },
  PUBLIC_SERVICE: { weight: 5, floors: [2, 8], storeyHeightM: [3.6, 4.2], widthM: [20, 40], lengthM: [20, 50] },
  EDUCATION: { weight: 6, floors: [3, 5], storeyHeightM: [3.6, 3.9], widthM: [15, 25], lengthM: [50, 90] },
  MEDICAL: { weight: 4, floors: [4, 18], storeyHeightM: [3.9, 4.5], widthM: [25, 50], lengthM: [40, 80] },
  MIXED: { weight: 6, floors: [6, 30], storeyHeightM: [3.3, 4.0], widthM: [40, 80], lengthM: [40, 80] },
  OTHER: { weight: 6, floors: [1, 2], storeyHeightM: [3.0, 4.0], widthM: [5, 15], lengthM: [5, 20] },
};

const buildingUses = Object.entries(buildingProfiles).map(([use, profile]) => [use as BuildingUse, profile.weight] as const);

function buildingName(random: SeededRandom, use: BuildingUse, district: District): string | null {
  if (use === 'OTHER' || random.chance(0.2)) return null;
  const trade = tradeName(random);
  switch (use) {
    case 'RESIDENTIAL':
      return `${trade}${random.pick(['家园', '花园', '嘉园', '小区', '苑'])}${random.int(1, 24)}号楼`;
    case 'OFFICE':
      return `${trade}大厦`;
    case 'COMMERCIAL':
      return `${trade}${random.pick(['购物中心', '商场', '广场'])}`;
    case 'INDUSTRIAL':
      return `${trade}科技园${random.int(1, 12)}号厂房`;
    case 'PUBLIC_SERVICE':
      return `${district.name}${random.pick(['政务服务中心', '文化馆', '图书馆', '社区服务中心'])}`;
    case 'EDUCATION':
      return random.chance(0.5) ? `${district.city}${district.name}第${random.int(1, 80)}中学教学楼` : `${district.name}${trade}小学综合楼`;
    case 'MEDICAL':
      return `${district.city}${district.name}${random.pick(['医院', '中医医院', '妇幼保健院'])}门诊楼`;
    default:
      return `${trade}中心`;
  }
}

const round7 = (n: number): number => Math.round(n * 1e7) / 1e7;

/** A rotated rectangle around the centre, counterclockwise as RFC 7946 asks of exterior rings. */
function footprint(random: SeededRandom, centre: readonly [number, number], profile: BuildingProfile): string {
  const [lon0, lat0] = centre;
  const width = random.between(...profile.widthM);
  const length = random.between(...profile.lengthM);
  const angle = random.between(0, Math.PI / 2);
  const metresPerDegreeLat = 110_574;
  const metresPerDegreeLon = 111_320 * Math.cos((lat0 * Math.PI) / 180);
  const corners: Array<[number, number]> = [
    [-length / 2, -width / 2],
    [length / 2, -width / 2],
    [length / 2, width / 2],
    [-length / 2, width / 2],
  ];
  const ring = corners.map(([x, y]) => {
    const east = x * Math.cos(angle) - y * Math.sin(angle);
    const north = x * Math.sin(angle) + y * Math.cos(angle);
    return [round7(lon0 + east / metresPerDegreeLon), round7(lat0 + north / metresPerDegreeLat)];
  });
  ring.push([...ring[0]]);
  return JSON.stringify({ type: 'Polygon', coordinates: [ring] });
}

function buildingRecord(random: SeededRandom, asOf: Date): SampleRecord {
  const district = random.pick(beijingDistricts);
  const use = random.weighted(buildingUses);
  const profile = buildingProfiles[use];
  const floors = random.int(...profile.floors);
  const [lon, lat] = beijingDistrictCentres[district.code];
  const centre = [lon + random.between(-0.012, 0.012), lat + random.between(-0.009, 0.009)] as const;
  const height = Math.round(floors * random.between(...profile.storeyHeightM) * 10) / 10;
  const builtYear = random.chance(0.08) ? null : random.int(1955, asOf.getUTCFullYear() - 1);
  return {
    feature_id: `BLD-${district.code}-${random.digits(6)}`,
    name: buildingName(random, use, district),
    district: district.code,
    use,
    floors,
    height_m: random.chance(0.1) ? null : height,
    built_year: builtYear,
    geometry: footprint(random, centre, profile),
    updated_at: updatedAt(random, new Date(Date.UTC(builtYear ?? 1955, 0, 1)), asOf),
  };
}

// ---------------------------------------------------------------------------------------------- population.criminal-records

type OffenceCategory =
  | 'THEFT'
  | 'FRAUD'
  | 'ROBBERY'
  | 'INTENTIONAL_INJURY'
  | 'DANGEROUS_DRIVING'
  | 'TRAFFIC_ACCIDENT'
  | 'DRUG_OFFENCE'
  | 'GAMBLING'
  | 'PICKING_QUARRELS'
  | 'ASSISTING_CYBERCRIME'
  | 'BRIBERY'
  | 'EMBEZZLEMENT'
  | 'OTHER';

const offenceCategories: ReadonlyArray<readonly [OffenceCategory, number]> = [
  ['DANGEROUS_DRIVING', 20],
  ['THEFT', 18],
  ['FRAUD', 12],
  ['ASSISTING_CYBERCRIME', 10],
  ['INTENTIONAL_INJURY', 8],
  ['PICKING_QUARRELS', 6],
  ['DRUG_OFFENCE', 6],
  ['TRAFFIC_ACCIDENT', 4],
  ['GAMBLING', 4],
  ['OTHER', 4],
  ['ROBBERY', 3],
  ['EMBEZZLEMENT', 3],
  ['BRIBERY', 2],
];

/** Dangerous driving became a crime in May 2011, assisting cybercrime in November 2015. */
function offenceAsOf(category: OffenceCategory, decided: Date): OffenceCategory {
  if (category === 'DANGEROUS_DRIVING' && decided < new Date('2011-06-01T00:00:00Z')) return 'TRAFFIC_ACCIDENT';
  if (category === 'ASSISTING_CYBERCRIME' && decided < new Date('2016-01-01T00:00:00Z')) return 'FRAUD';
  return category;
}

function criminalRecord(random: SeededRandom, asOf: Date): SampleRecord {
  const court = random.pick(districts);
  const decided = randomDay(random, new Date('2005-01-01T00:00:00Z'), addDays(asOf, -7));
  const person = personAged(random, decided, 18, 65);
  const year = decided.getUTCFullYear();
  const abbreviation = provinceAbbreviations[court.code.slice(0, 2)] ?? '';
  return {
    record_id: `CR-${year}-${court.code}-${random.digits(5)}`,
    id_number: person.idNumber,
    offence_category: offenceAsOf(random.weighted(offenceCategories), decided),
    case_number: `（${year}）${abbreviation}${court.code.slice(2)}刑初${random.int(1, 3000)}号`,
    decision_date: isoDate(decided),
    court: `${court.city}${court.name}人民法院`,
    updated_at: updatedAt(random, decided, asOf),
  };
}

// ---------------------------------------------------------------------------------------------- macro-economy.indicators

type Frequency = 'YEAR' | 'QUARTER' | 'MONTH';

interface Indicator {
  code: string;
  name: string;
  unit: string;
  frequency: Frequency;
  /** only released for the whole city */
  cityOnly: boolean;
  /** the city's value for a full year (or the level of a rate or index), from which districts take their share */
  cityValue: readonly [number, number];
  /** sums over the year (cumulative to date: 1–9月) rather than a level, a rate or an index */
  cumulative: boolean;
  decimals: number;
}

/** Beijing's headline indicators, at roughly their recent magnitudes. */
const indicators: readonly Indicator[] = [
  { code: 'GDP', name: '地区生产总值', unit: '亿元', frequency: 'QUARTER', cityOnly: false, cityValue: [44_000, 52_000], cumulative: true, decimals: 1 },
  { code: 'GDP_GROWTH', name: '地区生产总值增长率', unit: '%', frequency: 'QUARTER', cityOnly: false, cityValue: [4.0, 6.5], cumulative: false, decimals: 1 },
  { code: 'RETAIL_SALES', name: '社会消费品零售总额', unit: '亿元', frequency: 'MONTH', cityOnly: false, cityValue: [13_000, 15_500], cumulative: true, decimals: 1 },
  { code: 'FAI_GROWTH', name: '固定资产投资（不含农户）增长率', unit: '%', frequency: 'MONTH', cityOnly: false, cityValue: [-3.0, 8.0], cumulative: false, decimals: 1 },
  { code: 'BUDGET_REVENUE', name: '一般公共预算收入', unit: '亿元', frequency: 'MONTH', cityOnly: false, cityValue: [5_800, 6_600], cumulative: true, decimals: 2 },
  { code: 'DISPOSABLE_INCOME_PC', name: '居民人均可支配收入', unit: '元', frequency: 'QUARTER', cityOnly: false, cityValue: [77_000, 90_000], cumulative: true, decimals: 0 },
  { code: 'RESIDENT_POPULATION', name: '常住人口', unit: '万人', frequency: 'YEAR', cityOnly: false, cityValue: [2_180, 2_190], cumulative: false, decimals: 1 },
  { code: 'CPI_YOY', name: '居民消费价格指数（上年同月=100）', unit: '上年同月=100', frequency: 'MONTH', cityOnly: true, cityValue: [99.3, 101.8], cumulative: false, decimals: 1 },
  { code: 'UNEMPLOYMENT_RATE', name: '城镇调查失业率', unit: '%', frequency: 'MONTH', cityOnly: true, cityValue: [3.9, 4.6], cumulative: false, decimals: 1 },
];

/** Each district's rough share of the city's economy (and of its population, for RESIDENT_POPULATION). */
const beijingEconomicShare: Readonly<Record<string, readonly [number, number]>> = {
  '110101': [0.075, 0.044], '110102': [0.125, 0.051], '110105': [0.17, 0.157], '110106': [0.05, 0.092],
  '110107': [0.02, 0.026], '110108': [0.23, 0.143], '110109': [0.006, 0.018], '110111': [0.02, 0.06],
  '110112': [0.035, 0.085], '110113': [0.05, 0.065], '110114': [0.035, 0.103], '110115': [0.055, 0.091],
  '110116': [0.008, 0.02], '110117': [0.006, 0.021], '110118': [0.008, 0.024], '110119': [0.004, 0.016],
};

const BEIJING = '110000';
/** How far back sample periods reach: ten years of months and quarters, fifteen years (a few thousand distinct records in all). */
const PERIODS_BACK: Readonly<Record<Frequency, number>> = { MONTH: 120, QUARTER: 40, YEAR: 15 };

function periodsBefore(frequency: Frequency, asOf: Date, count: number): string[] {
  const periods: string[] = [];
  const year = asOf.getUTCFullYear();
  const month = asOf.getUTCMonth(); // a period is released after it ends
  for (let i = 1; periods.length < count; i++) {
    if (frequency === 'YEAR') periods.push(String(year - i));
    else if (frequency === 'QUARTER') {
      const q = Math.floor(month / 3) - i;
      const y = year + Math.floor(q / 4);
      periods.push(`${y}Q${(((q % 4) + 4) % 4) + 1}`);
    } else {
      const m = month - i;
      const y = year + Math.floor(m / 12);
      periods.push(`${y}-${String((((m % 12) + 12) % 12) + 1).padStart(2, '0')}`);
    }
  }
  return periods;
}

/** Share of the year a cumulative value covers by the end of the period (1–9月 of a year: 0.75). */
function shareOfYear(period: string): number {
  const quarter = /Q(\d)$/.exec(period);
  if (quarter) return Number(quarter[1]) / 4;
  const month = /-(\d{2})$/.exec(period);
  return month ? Number(month[1]) / 12 : 1;
}

function macroIndicatorRecord(random: SeededRandom, asOf: Date): SampleRecord {
  const indicator = random.pick(indicators);
  const division = indicator.cityOnly || random.chance(0.2) ? BEIJING : random.pick(beijingDistricts).code;
  const period = random.pick(periodsBefore(indicator.frequency, asOf, PERIODS_BACK[indicator.frequency]));
  const [economy, population] = division === BEIJING ? [1, 1] : beijingEconomicShare[division]!;
  let value = random.between(...indicator.cityValue);
  if (indicator.unit === '亿元') value *= economy;
  if (indicator.code === 'RESIDENT_POPULATION') value *= population;
  if (indicator.cumulative) value *= shareOfYear(period);
  if (indicator.unit === '%' && division !== BEIJING) value += random.between(-1.5, 1.5);
  const factor = 10 ** indicator.decimals;
  const released = randomInstant(random, addDays(asOf, -400), asOf);
  return {
    record_id: `${indicator.code}-${division}-${period}`,
    indicator_code: indicator.code,
    indicator_name: indicator.name,
    period,
    division,
    value: Math.round(value * factor) / factor,
    unit: indicator.unit,
    status: random.weighted([['PRELIMINARY', 5], ['REVISED', 2], ['FINAL', 3]]),
    updated_at: released,
  };
}

// ---------------------------------------------------------------------------------------------- entry point

interface SampleDataset {
  key: string;
  record: (random: SeededRandom, asOf: Date) => SampleRecord;
}

const sampleDatasets: Readonly<Record<string, SampleDataset>> = {
  'population.residents': { key: 'id_number', record: residentRecord },
  'legal-entity.registry': { key: 'uscc', record: legalEntityRecord },
  'geospatial.buildings': { key: 'feature_id', record: buildingRecord },
  'population.criminal-records': { key: 'record_id', record: criminalRecord },
  'macro-economy.indicators': { key: 'record_id', record: macroIndicatorRecord },
};

export const sampleDatasetIds: string[] = Object.keys(sampleDatasets);

/** Collisions are rare in these key spaces; this only stops a runaway loop. */
const MAX_ATTEMPTS_PER_RECORD = 100;

/**
 * `count` records of the dataset, with unique keys; the same seed (and asOf) always gives the same records.
 * Throws for a dataset without a generator.
 */
export function generateSample(datasetId: string, count: number, seed?: number, options: SampleOptions = {}): SampleRecord[] {
  if (!Object.hasOwn(sampleDatasets, datasetId)) {
    throw new Error(`no sample generator for dataset "${datasetId}"; known datasets: ${sampleDatasetIds.join(', ')}`);
  }
  if (!Number.isInteger(count) || count < 0 || count > MAX_SAMPLE_COUNT) {
    throw new RangeError(`sample count must be an integer from 0 to ${MAX_SAMPLE_COUNT}, got ${count}`);
  }
  const dataset = sampleDatasets[datasetId];
  const random = new SeededRandom(seed ?? Math.floor(Math.random() * 2 ** 32));
  const asOf = options.asOf ?? DEFAULT_SAMPLE_AS_OF;
  const seenKeys = new Set<unknown>();
  const records: SampleRecord[] = [];
  while (records.length < count) {
    const record = firstWithNewKey(() => dataset.record(random, asOf), dataset.key, seenKeys);
    seenKeys.add(record[dataset.key]);
    records.push(record);
  }
  return records;
}

function firstWithNewKey(make: () => SampleRecord, key: string, seenKeys: ReadonlySet<unknown>): SampleRecord {
  for (let attempt = 0; attempt < MAX_ATTEMPTS_PER_RECORD; attempt++) {
    const record = make();
    if (!seenKeys.has(record[key])) return record;
  }
  throw new Error(`could not find an unused ${key} after ${MAX_ATTEMPTS_PER_RECORD} attempts`);
}
