import fs from 'node:fs';
import { checkCreditCode } from '../../../schemas/validators/creditCode';
import { checkDivisionCode, districts, divisionName, provinces } from '../../../schemas/validators/divisionCode';
import { divisionRegistry } from '../../../schemas/validators/divisionRegistry';
import { abolishedDivisions } from '../../../schemas/validators/divisionChanges';
import { GEOJSON_LIMITS, checkGeoJsonGeometry } from '../../../schemas/validators/geojson';
import { checkIdNumber, checkIdNumberAt } from '../../../schemas/validators/idNumber';
import { domainChecks, domainChecksOf, runDomainChecks } from '../../../schemas/validators';
import { projectPath } from '../../../lib/paths';

/** ISO 7064 MOD 11-2 written from its definition (weights 2^(17-i) mod 11), independent of the code under test. */
function withIdCheck(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * (2 ** (17 - i) % 11);
  const check = (12 - (sum % 11)) % 11;
  return first17 + (check === 10 ? 'X' : String(check));
}

const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
/** GB 32100 written from its definition (weights 3^(i-1) mod 31), independent of the code under test. */
function withUsccCheck(first17: string): string {
  let sum = 0;
  let weight = 1;
  for (let i = 0; i < 17; i++) {
    sum += USCC_CHARS.indexOf(first17[i]) * weight;
    weight = (weight * 3) % 31;
  }
  return first17 + USCC_CHARS[(31 - (sum % 31)) % 31];
}

describe('citizen ID number (GB 11643)', () => {
  it('accepts the example number printed in the standard', () => {
    expect(checkIdNumber('11010519491231002X')).toBeNull();
  });

  it('accepts numbers whose check digit was computed correctly', () => {
    expect(checkIdNumber('110108199003071238')).toBeNull();
    expect(checkIdNumber(withIdCheck('44010620010915004'))).toBeNull();
    expect(checkIdNumber(withIdCheck('31011520240229004'))).toBeNull();
  });

  it('accepts the 83 prefix of residence permits for Taiwan residents', () => {
    expect(checkIdNumber('830000198808080025')).toBeNull();
  });

  it('rejects an ID number whose check digit is wrong', () => {
    expect(checkIdNumber('110105194912310023')).toBe('check digit is 3, expected X (GB 11643)');
    expect(checkIdNumber('110108199003071230')).toBe('check digit is 0, expected 8 (GB 11643)');
  });

  it('rejects a lowercase x as check character', () => {
    expect(checkIdNumber('11010519491231002x')).toBe('check character must be an uppercase X, got lowercase x (GB 11643)');
  });

  it('rejects numbers that are not 18 characters long', () => {
    expect(checkIdNumber('11010519491231002')).toBe('ID number must be 18 characters, got 17 (GB 11643)');
    expect(checkIdNumber('11010519491231002X1')).toBe('ID number must be 18 characters, got 19 (GB 11643)');
    expect(checkIdNumber('')).toMatch(/got 0/);
  });

  it('rejects the 15-digit first-generation format', () => {
    expect(checkIdNumber('110105491231002')).toMatch(/18 characters, got 15/);
  });

  it('rejects a letter among the first 17 characters', () => {
    expect(checkIdNumber('1101051949123100AX')).toBe("character 17 is 'A', expected a digit (GB 11643)");
  });

  it('rejects a check character that is neither a digit nor X', () => {
    expect(checkIdNumber('11010519491231002Y')).toBe("check character is 'Y', expected a digit or X (GB 11643)");
  });

  it('rejects a birth date that is not a calendar date such as 19990231', () => {
    expect(checkIdNumber(withIdCheck('11010819990231123'))).toBe('birth date 19990231 is not a real calendar date (GB 11643)');
    expect(checkIdNumber(withIdCheck('11010819991301123'))).toMatch(/19991301 is not a real calendar date/);
    expect(checkIdNumber(withIdCheck('11010819990100123'))).toMatch(/19990100 is not a real calendar date/);
  });

  it('knows leap years: 2000-02-29 exists, 1900-02-29 does not', () => {
    expect(checkIdNumber(withIdCheck('11010820000229123'))).toBeNull();
    expect(checkIdNumber(withIdCheck('11010819000229123'))).toMatch(/19000229 is not a real calendar date/);
  });

  it('rejects a birth date before 1900, even the 1880 example of the standard', () => {
    expect(checkIdNumber('440524188001010014')).toBe('birth date 18800101 is before 1900 (GB 11643)');
    expect(checkIdNumber(withIdCheck('11010818991231123'))).toMatch(/before 1900/);
  });

  it('rejects a birth date in the future, judged by the date in China', () => {
    const now = new Date('2024-06-30T17:00:00Z'); // already 1 July in Beijing
    expect(checkIdNumberAt(withIdCheck('11010820240701123'), now)).toBeNull();
    expect(checkIdNumberAt(withIdCheck('11010820240702123'), now)).toBe('birth date 20240702 is in the future (GB 11643)');
    expect(checkIdNumber(withIdCheck('11010830000101123'))).toMatch(/in the future/);
  });

  it('rejects an address code that does not start with a province-level code', () => {
    expect(checkIdNumber('990108199003071231')).toBe(
      'address code 990108 starts with 99, which is not a province-level code (GB/T 2260)',
    );
    expect(checkIdNumber('000108199003071232')).toMatch(/starts with 00/);
  });

  it('rejects values that are not strings', () => {
    expect(checkIdNumber(110108199003071238)).toBe('ID number must be a string, got number (GB 11643)');
    expect(checkIdNumber(null)).toMatch(/got null/);
  });
});

describe('unified social credit code (GB 32100)', () => {
  it('accepts real published codes of companies', () => {
    for (const code of ['91110000802100433B', '91110108551385082Q', '914403001922038216', '91330100716105852F']) {
      expect(checkCreditCode(code)).toBeNull();
    }
  });

  it('accepts codes of other registration authorities in the table, such as a law firm (31)', () => {
    expect(checkCreditCode('31110000E00017891P')).toBeNull();
    expect(checkCreditCode(withUsccCheck('51110108MJ0012345'))).toBeNull();
    expect(checkCreditCode(withUsccCheck('N2110117MF0123456'))).toBeNull();
  });

  it('accepts the national division code 100000 of centrally registered bodies', () => {
    expect(checkCreditCode('11100000000013338W')).toBeNull();
  });

  it('rejects a code whose check character is wrong', () => {
    expect(checkCreditCode('91110000802100433C')).toBe('check character is C, expected B (GB 32100)');
  });

  it.each(['I', 'O', 'Z', 'S', 'V'])('rejects the excluded letter %s', (letter) => {
    const code = `91110108MA01${letter}1UG8X`;
    expect(checkCreditCode(code)).toBe(`character 13 is '${letter}', which GB 32100 excludes (no I, O, Z, S, V)`);
  });

  it('rejects lowercase letters', () => {
    expect(checkCreditCode('91110000802100433b')).toBe("character 18 is lowercase 'b'; GB 32100 codes use capitals only");
  });

  it('rejects punctuation and other characters outside the alphabet', () => {
    expect(checkCreditCode('91110000-02100433B')).toMatch(/character 9 is '-', which is not in the GB 32100 alphabet/);
  });

  it('rejects codes that are not 18 characters long', () => {
    expect(checkCreditCode('91110000802100433')).toBe('unified social credit code must be 18 characters, got 17 (GB 32100)');
    expect(checkCreditCode('91110000802100433BB')).toMatch(/got 19/);
  });

  it('rejects a registration authority code outside the table', () => {
    expect(checkCreditCode(withUsccCheck('B1110108MA01C1UG8'))).toMatch(/^registration authority code 'B' is not in the GB 32100 table/);
  });

  it('rejects an organisation type its registration authority does not issue', () => {
    expect(checkCreditCode(withUsccCheck('94110108MA01C1UG8'))).toBe(
      "organisation type '4' is not valid for registration authority 9 (工商); expected one of 1, 2, 3 (GB 32100)",
    );
    expect(checkCreditCode(withUsccCheck('Y2110108MA01C1UG8'))).toMatch(/organisation type '2' is not valid for registration authority Y/);
  });

  it('rejects characters 3-8 that are not a 6-digit division code', () => {
    expect(checkCreditCode(withUsccCheck('9111A108MA01C1UG8'))).toBe(
      "characters 3-8 must be a 6-digit administrative division code, got '11A108' (GB 32100)",
    );
  });

  it('rejects a division code without a real province prefix', () => {
    expect(checkCreditCode(withUsccCheck('91990108MA01C1UG8'))).toMatch(/'990108' start with 99, which is not a province-level code/);
  });

  it('rejects values that are not strings', () => {
    expect(checkCreditCode(91110000802100433)).toMatch(/must be a string, got number/);
  });
});

describe('administrative division code (GB/T 2260)', () => {
  it('accepts 6-digit codes under a real province', () => {
    for (const code of ['110108', '440106', '310115', '650100', '820000', '710000']) expect(checkDivisionCode(code)).toBeNull();
  });

  it('rejects codes that are not exactly 6 digits', () => {
    expect(checkDivisionCode('11010')).toBe('division code must be exactly 6 digits, got 5 characters (GB/T 2260)');
    expect(checkDivisionCode('1101081')).toMatch(/got 7 characters/);
    expect(checkDivisionCode('11010a')).toBe('division code must be exactly 6 digits, got a non-digit character (GB/T 2260)');
    expect(checkDivisionCode(' 11010')).toMatch(/non-digit/);
  });

  it('rejects a code whose first two digits are not a province-level code', () => {
    expect(checkDivisionCode('991234')).toBe('division code 991234 starts with 99, which is not a province-level code (GB/T 2260)');
    for (const code of ['001234', '161234', '241234', '381234', '471234', '551234', '661234', '721234', '831234']) {
      expect(checkDivisionCode(code)).not.toBeNull();
    }
  });

  it('rejects a number instead of a string', () => {
    expect(checkDivisionCode(110108)).toBe('division code must be a string, got number (GB/T 2260)');
  });

  it('rejects well-formed codes that name no division on the official list', () => {
    expect(checkDivisionCode('119999')).toBe('division code 119999 is not an administrative division in GB/T 2260');
    expect(checkDivisionCode('110199')).toBe('division code 110199 is not an administrative division in GB/T 2260');
    expect(checkDivisionCode('110110')).not.toBeNull(); // never assigned
    // the statistics bureau numbers development zones like counties; they are not administrative divisions
    expect(checkDivisionCode('130171')).toBe('division code 130171 is not an administrative division in GB/T 2260');
    // municipalities have no prefecture level: 110100 市辖区 is a statistical placeholder
    expect(checkDivisionCode('110100')).not.toBeNull();
  });

  it('accepts province, prefecture and county-level divisions, including cities without counties', () => {
    for (const code of ['110000', '440100', '441900', '429004', '500101', '659012', '540481', '810000']) {
      expect(checkDivisionCode(code)).toBeNull();
    }
  });

  it('keeps a merged or renamed division valid for records of its time, and only for them', () => {
    expect(checkDivisionCode('110103')).toBeNull(); // 崇文区: time unknown, it was valid once
    expect(checkDivisionCode('110103', { asOf: new Date('2009-05-01T00:00:00Z') })).toBeNull();
    expect(checkDivisionCode('110103', { asOf: new Date('2010-12-31T12:00:00Z') })).toBeNull(); // the year it was merged
    expect(checkDivisionCode('110103', { asOf: new Date('2024-03-01T00:00:00Z') })).toBe(
      'division code 110103 (北京市崇文区) was abolished in 2010 (now 110101 东城区); a record of 2024 must use the current code (GB/T 2260)',
    );
    expect(checkDivisionCode('330104', { asOf: new Date('2022-01-01T00:00:00Z') })).toMatch(/江干区.*abolished in 2021 \(now 330102 上城区, 330113 临平区\)/);
    // 2021 in China starts at 16:00 UTC on the last day of 2020
    expect(checkDivisionCode('330104', { asOf: new Date('2021-12-31T15:59:00Z') })).toBeNull();
    expect(checkDivisionCode('330104', { asOf: new Date('2021-12-31T16:00:00Z') })).not.toBeNull();
    expect(checkDivisionCode('110108', { asOf: new Date('2030-01-01T00:00:00Z') })).toBeNull();
  });

  it('lists every abolished division with successors that exist today', () => {
    for (const old of abolishedDivisions) {
      const division = divisionRegistry().lookup(old.code);
      expect(division).toMatchObject({ abolishedIn: old.abolishedIn, name: old.name });
      for (const successor of old.successors) expect(divisionRegistry().lookup(successor)?.abolishedIn).toBeNull();
    }
  });

  it('names divisions with the levels above them', () => {
    expect(divisionName('110108')).toBe('北京市海淀区');
    expect(divisionName('650100')).toBe('新疆维吾尔自治区乌鲁木齐市');
    expect(divisionName('441900')).toBe('广东省东莞市');
    expect(divisionName('440106')).toBe('广东省广州市天河区');
    expect(divisionName('110103')).toBe('北京市崇文区（2010年撤销）');
    expect(divisionName('119999')).toBeNull();
    expect(divisionRegistry().size).toBeGreaterThan(3000);
  });

  it('exports the 34 province-level divisions and real, unique district codes', () => {
    expect(Object.keys(provinces)).toHaveLength(34);
    expect(provinces['44']).toBe('广东省');
    const codes = districts.map((d) => d.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes).toEqual(expect.arrayContaining(['110101', '110108', '110119', '310115', '440106']));
    expect(codes).not.toContain('110103'); // 崇文区, merged into 东城区 in 2010
    for (const district of districts) expect(checkDivisionCode(district.code)).toBeNull();
  });
});

describe('GeoJSON geometry (RFC 7946)', () => {
  const square = [
    [116.3, 39.9],
    [116.31, 39.9],
    [116.31, 39.91],
    [116.3, 39.91],
    [116.3, 39.9],
  ];
  const hole = [
    [116.302, 39.902],
    [116.302, 39.904],
    [116.304, 39.904],
    [116.302, 39.902],
  ];

  it('accepts every geometry type', () => {
    const geometries = [
      { type: 'Point', coordinates: [116.397, 39.908] },
      { type: 'Point', coordinates: [116.397, 39.908, 44.5] },
      { type: 'MultiPoint', coordinates: [[116.397, 39.908], [121.47, 31.23]] },
      { type: 'LineString', coordinates: [[116.3, 39.9], [116.4, 39.95]] },
      { type: 'MultiLineString', coordinates: [[[116.3, 39.9], [116.4, 39.95]], [[116.5, 39.9], [116.6, 39.8]]] },
      { type: 'Polygon', coordinates: [square, hole] },
      { type: 'MultiPolygon', coordinates: [[square], [square, hole]] },
      { type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: [0, 0] }, { type: 'Polygon', coordinates: [square] }] },
      { type: 'Point', coordinates: [-180, -90] },
      { type: 'Point', coordinates: [180, 90] },
    ];
    for (const geometry of geometries) expect(checkGeoJsonGeometry(geometry)).toBeNull();
  });

  it('accepts a geometry given as JSON text, as the Avro string field carries it', () => {
    expect(checkGeoJsonGeometry(JSON.stringify({ type: 'Polygon', coordinates: [square] }))).toBeNull();
  });

  it('rejects a polygon ring that is not closed', () => {
    const open = square.slice(0, 4).concat([[116.3, 39.905]]);
    expect(checkGeoJsonGeometry({ type: 'Polygon', coordinates: [open] })).toBe(
      'coordinates[0]: linear ring is not closed, its first and last positions differ (RFC 7946 §3.1.6)',
    );
  });

  it('rejects a ring with fewer than 4 positions', () => {
    const triangle = [[116.3, 39.9], [116.31, 39.9], [116.3, 39.9]];
    expect(checkGeoJsonGeometry({ type: 'MultiPolygon', coordinates: [[square], [triangle]] })).toBe(
      'coordinates[1][0]: a linear ring needs at least 4 positions, got 3 (RFC 7946 §3.1)',
    );
  });

  it('rejects a latitude outside [-90, 90]', () => {
    expect(checkGeoJsonGeometry({ type: 'LineString', coordinates: [[116.3, 39.9], [116.3, 95]] })).toBe(
      'coordinates[1]: latitude 95 is outside [-90, 90] (RFC 7946 §4)',
    );
  });

  it('rejects a longitude outside [-180, 180]', () => {
    expect(checkGeoJsonGeometry({ type: 'Point', coordinates: [180.5, 39.9] })).toBe(
      'coordinates: longitude 180.5 is outside [-180, 180] (RFC 7946 §4)',
    );
  });

  it('rejects coordinates of the wrong depth', () => {
    expect(checkGeoJsonGeometry({ type: 'Polygon', coordinates: square })).toBe(
      'coordinates: arrays nest 2 deep, a Polygon needs 3 (RFC 7946 §3.1)',
    );
    expect(checkGeoJsonGeometry({ type: 'Point', coordinates: [[116.3, 39.9]] })).toMatch(/arrays nest 2 deep, a Point needs 1/);
    expect(checkGeoJsonGeometry({ type: 'LineString', coordinates: [116.3, 39.9] })).toMatch(/arrays nest 1 deep, a LineString needs 2/);
    expect(checkGeoJsonGeometry({ type: 'MultiPolygon', coordinates: [square] })).toMatch(/arrays nest 3 deep, a MultiPolygon needs 4/);
    expect(checkGeoJsonGeometry({ type: 'MultiPoint', coordinates: [[[[[[0, 0]]]]]] })).toMatch(/more than 4 deep/);
  });

  it('rejects positions without 2 or 3 finite numbers', () => {
    expect(checkGeoJsonGeometry({ type: 'Point', coordinates: [116.3] })).toMatch(/2 or 3 numbers .* got 1/);
    expect(checkGeoJsonGeometry({ type: 'Point', coordinates: [116.3, 39.9, 1, 2] })).toMatch(/got 4/);
    expect(checkGeoJsonGeometry({ type: 'Point', coordinates: [Number.NaN, 39.9] })).toMatch(/coordinates\[0\]: must be a finite number/);
    expect(checkGeoJsonGeometry({ type: 'Point', coordinates: ['116.3', 39.9] })).toMatch(/got string/);
  });

  it('rejects a ring whose later members are nested wrongly', () => {
    const badHole = [[116.302, 39.902], [[116.302, 39.904]], [116.304, 39.904], [116.302, 39.902]];
    expect(checkGeoJsonGeometry({ type: 'Polygon', coordinates: [square, badHole] })).toMatch(
      /^coordinates\[1\]\[1\]: a position must have 2 or 3 numbers/,
    );
  });

  it('rejects a LineString of a single position', () => {
    expect(checkGeoJsonGeometry({ type: 'LineString', coordinates: [[116.3, 39.9]] })).toBe(
      'coordinates: a LineString needs at least 2 positions, got 1 (RFC 7946 §3.1)',
    );
  });

  it('rejects unknown types, Features and missing members', () => {
    expect(checkGeoJsonGeometry({ type: 'Circle', coordinates: [0, 0] })).toMatch(/type 'Circle' is not a GeoJSON geometry type/);
    expect(checkGeoJsonGeometry({ type: 'Feature', geometry: null })).toMatch(/type 'Feature' is not a GeoJSON geometry type/);
    expect(checkGeoJsonGeometry({ coordinates: [0, 0] })).toMatch(/type undefined is not a GeoJSON geometry type/);
    expect(checkGeoJsonGeometry({ type: 'Point' })).toBe('geometry: a Point needs a coordinates member (RFC 7946 §3.1)');
    expect(checkGeoJsonGeometry({ type: 'MultiPolygon', coordinates: [] })).toMatch(/at least one Polygon; use null/);
  });

  it('names the failing member inside a GeometryCollection', () => {
    const collection = { type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: [0, 0] }, { type: 'Point', coordinates: [0, 91] }] };
    expect(checkGeoJsonGeometry(collection)).toBe('geometries[1].coordinates: latitude 91 is outside [-90, 90] (RFC 7946 §4)');
  });

  it('rejects values that are neither an object nor JSON text of one', () => {
    expect(checkGeoJsonGeometry(42)).toMatch(/must be an object, got number/);
    expect(checkGeoJsonGeometry([116.3, 39.9])).toMatch(/got an array/);
    expect(checkGeoJsonGeometry('{"type":"Point",')).toBe('GeoJSON text is not valid JSON (RFC 8259)');
    expect(checkGeoJsonGeometry('null')).toMatch(/got null/);
  });

  it('rejects a geometry with more positions than the limit', () => {
    const points = Array.from({ length: GEOJSON_LIMITS.maxPositions + 1 }, () => [116.3, 39.9]);
    expect(checkGeoJsonGeometry({ type: 'MultiPoint', coordinates: points })).toMatch(
      new RegExp(`more than ${GEOJSON_LIMITS.maxPositions} positions`),
    );
    expect(checkGeoJsonGeometry({ type: 'MultiPoint', coordinates: points.slice(1) })).toBeNull();
  });

  it('rejects oversized GeoJSON text before parsing it', () => {
    const text = `{"type":"Point","coordinates":[0,0],"pad":"${'x'.repeat(GEOJSON_LIMITS.maxChars)}"}`;
    expect(checkGeoJsonGeometry(text)).toMatch(/more than the limit of/);
  });

  it('rejects deeply nested JSON text quickly and without overflowing the stack', () => {
    const deep = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    expect(checkGeoJsonGeometry(deep)).toMatch(/nests deeper than/);
    const quotedBrackets = JSON.stringify({ type: 'Point', coordinates: [0, 0], note: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[' });
    expect(checkGeoJsonGeometry(quotedBrackets)).toBeNull();
  });

  it('bounds GeometryCollections nested in one another', () => {
    let geometry: object = { type: 'Point', coordinates: [0, 0] };
    for (let i = 0; i < GEOJSON_LIMITS.maxCollectionDepth; i++) geometry = { type: 'GeometryCollection', geometries: [geometry] };
    expect(checkGeoJsonGeometry(geometry)).toBeNull();
    const tooDeep = { type: 'GeometryCollection', geometries: [geometry] };
    expect(checkGeoJsonGeometry(tooDeep)).toMatch(/GeometryCollections nest deeper than/);
  });

  it('survives a collection that contains itself', () => {
    const cyclic: { type: string; geometries: unknown[] } = { type: 'GeometryCollection', geometries: [] };
    cyclic.geometries.push(cyclic);
    expect(checkGeoJsonGeometry(cyclic)).toMatch(/nest deeper than/);
  });
});

describe('domain checks registry', () => {
  const residents = JSON.parse(fs.readFileSync(projectPath('schemas', 'population.residents.avsc'), 'utf8')) as object;

  it('offers the five checks, each under its rule name', () => {
    expect(Object.keys(domainChecks).sort()).toEqual(['cn-division-code', 'cn-id-number', 'cn-uscc', 'geojson-geometry', 'stat-period']);
    for (const [key, definition] of Object.entries(domainChecks)) {
      expect(definition.rule).toBe(key);
      expect(definition.description.length).toBeGreaterThan(10);
    }
  });

  it('reads the checks a schema asks for from its fields', () => {
    const checks = domainChecksOf(residents);
    expect(checks.map(({ field, rule, nullable }) => ({ field, rule, nullable }))).toEqual([
      { field: 'id_number', rule: 'cn-id-number', nullable: false },
      { field: 'household_district', rule: 'cn-division-code', nullable: false },
    ]);
  });

  it('resolves the checks of every seed schema', () => {
    const files = fs.readdirSync(projectPath('schemas')).filter((name) => name.endsWith('.avsc'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) {
      const schema = JSON.parse(fs.readFileSync(projectPath('schemas', file), 'utf8')) as object;
      expect(() => domainChecksOf(schema)).not.toThrow();
    }
  });

  it('reports each failing field with its path, rule and message', () => {
    const failures = runDomainChecks(domainChecksOf(residents), {
      id_number: '110105194912310023',
      household_district: '991234',
      name: '张三',
    });
    expect(failures).toEqual([
      { path: 'id_number', rule: 'cn-id-number', message: 'check digit is 3, expected X (GB 11643)' },
      {
        path: 'household_district',
        rule: 'cn-division-code',
        message: 'division code 991234 starts with 99, which is not a province-level code (GB/T 2260)',
      },
    ]);
    expect(runDomainChecks(domainChecksOf(residents), { id_number: '11010519491231002X', household_district: '110105' })).toEqual([]);
  });

  it('skips null in a nullable field but checks it in a required one', () => {
    const schema = {
      type: 'record',
      name: 'Parcel',
      fields: [
        { name: 'outline', type: ['null', 'string'], default: null, 'govx.check': 'geojson-geometry' },
        { name: 'district', type: 'string', 'govx.check': 'cn-division-code' },
      ],
    };
    const checks = domainChecksOf(schema);
    expect(checks.map((c) => c.nullable)).toEqual([true, false]);
    expect(runDomainChecks(checks, { outline: null, district: '110108' })).toEqual([]);
    expect(runDomainChecks(checks, { outline: '{"type":"Point","coordinates":[0,99]}', district: null })).toEqual([
      { path: 'outline', rule: 'geojson-geometry', message: 'coordinates: latitude 99 is outside [-90, 90] (RFC 7946 §4)' },
      { path: 'district', rule: 'cn-division-code', message: 'division code must be a string, got null (GB/T 2260)' },
    ]);
  });

  it('judges a division code at the time the record speaks of, read from the field the schema names', () => {
    const macro = JSON.parse(fs.readFileSync(projectPath('schemas', 'macro-economy.indicators.avsc'), 'utf8')) as object;
    const checks = domainChecksOf(macro);
    expect(checks.find((c) => c.field === 'division')).toMatchObject({ rule: 'cn-division-code', asOfField: 'period' });
    expect(runDomainChecks(checks, { period: '2009Q4', division: '110103' })).toEqual([]);
    expect(runDomainChecks(checks, { period: '2011-01', division: '110103' })).toEqual([
      { path: 'division', rule: 'cn-division-code', message: expect.stringMatching(/^division code 110103 \(北京市崇文区\) was abolished in 2010/) },
    ]);
    // a period that is not one leaves the division to be judged without a time, and is reported itself
    expect(runDomainChecks(checks, { period: '2011-13', division: '110103' })).toEqual([
      { path: 'period', rule: 'stat-period', message: 'statistical period 2011-13 has no month 13' },
    ]);
  });

  it('checks statistical periods: years, quarters and months', () => {
    const { check } = domainChecks['stat-period']!;
    for (const ok of ['2025', '2025Q1', '2025Q4', '2025-01', '2025-12']) expect(check(ok)).toBeNull();
    expect(check('2025Q5')).toBe('statistical period 2025Q5 has no quarter 5');
    expect(check('2025-00')).toBe('statistical period 2025-00 has no month 00');
    expect(check('25Q1')).toMatch(/must be a year \(2025\), a quarter \(2025Q3\) or a month \(2025-09\)/);
    expect(check('1900')).toBe('statistical period 1900 has a year outside 1949–2200');
    expect(check(2025)).toBe('statistical period must be a string, got number');
  });

  it('leaves missing fields and non-object records to Avro validation', () => {
    const checks = domainChecksOf(residents);
    expect(runDomainChecks(checks, {})).toEqual([]);
    expect(runDomainChecks(checks, null)).toEqual([]);
    expect(runDomainChecks(checks, [1, 2])).toEqual([]);
  });

  it('refuses a schema that names an unknown check, listing the known ones', () => {
    const schema = (check: unknown) => ({ type: 'record', name: 'R', fields: [{ name: 'x', type: 'string', 'govx.check': check }] });
    expect(() => domainChecksOf(schema('cn-passport'))).toThrow(
      'field x names unknown domain check "cn-passport"; known checks: cn-id-number, cn-uscc, cn-division-code, stat-period, geojson-geometry',
    );
    expect(() => domainChecksOf(schema('constructor'))).toThrow(/unknown domain check "constructor"/);
    expect(() => domainChecksOf(schema(7))).toThrow(/must be a string/);
  });

  it('finds no checks in a schema without fields', () => {
    expect(domainChecksOf({ type: 'string' })).toEqual([]);
  });
});
