/** GeoJSON geometry (RFC 7946), given as an object or as the JSON string an Avro string field carries. */
import { describeType } from './divisionCode';

/** Bounds that keep hostile input from burning CPU or memory. */
export const GEOJSON_LIMITS = Object.freeze({
  /** characters of a GeoJSON string; 100k positions at full precision fit comfortably */
  maxChars: 5_000_000,
  /** bracket/brace nesting of a GeoJSON string; MultiPolygon needs 5 under a few collections */
  maxJsonDepth: 24,
  /** GeometryCollections inside GeometryCollections (RFC 7946 §3.1.8 advises against any) */
  maxCollectionDepth: 3,
  /** positions in the whole geometry */
  maxPositions: 100_000,
});

const GEOMETRY_TYPES = ['Point', 'MultiPoint', 'LineString', 'MultiLineString', 'Polygon', 'MultiPolygon', 'GeometryCollection'];

type Position = number[];

/** Positions still allowed, so a huge or hostile value stops early. */
interface Budget {
  remaining: number;
}

function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++; // skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return false;
}

function parseGeometryText(text: string): { value: unknown } | { problem: string } {
  if (text.length > GEOJSON_LIMITS.maxChars) {
    return { problem: `GeoJSON text is ${text.length} characters, more than the limit of ${GEOJSON_LIMITS.maxChars}` };
  }
  if (jsonDepthExceeds(text, GEOJSON_LIMITS.maxJsonDepth)) {
    return { problem: `GeoJSON text nests deeper than ${GEOJSON_LIMITS.maxJsonDepth} levels` };
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { problem: 'GeoJSON text is not valid JSON (RFC 8259)' };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function spend(budget: Budget, path: string): string | null {
  budget.remaining--;
  return budget.remaining < 0 ? `${path}: geometry has more than ${GEOJSON_LIMITS.maxPositions} positions` : null;
}

function positionProblem(value: unknown, path: string, budget: Budget): string | null {
  const exhausted = spend(budget, path);
  if (exhausted) return exhausted;
  if (!Array.isArray(value)) return `${path}: a position must be an array of numbers, got ${describeType(value)} (RFC 7946 §3.1.1)`;
  if (value.length < 2 || value.length > 3) {
    return `${path}: a position must have 2 or 3 numbers (longitude, latitude[, altitude]), got ${value.length} (RFC 7946 §3.1.1)`;
  }
  for (let i = 0; i < value.length; i++) {
    const n: unknown = value[i];
    if (typeof n !== 'number' || !Number.isFinite(n)) return `${path}[${i}]: must be a finite number, got ${describeType(n)} (RFC 7946 §3.1.1)`;
  }
  const [longitude, latitude] = value as Position;
  if (longitude < -180 || longitude > 180) return `${path}: longitude ${longitude} is outside [-180, 180] (RFC 7946 §4)`;
  if (latitude < -90 || latitude > 90) return `${path}: latitude ${latitude} is outside [-90, 90] (RFC 7946 §4)`;
  return null;
}

/** Checks an array of positions, at least `minimum` long. */
function positionsProblem(value: unknown, path: string, budget: Budget, minimum: number, what: string): string | null {
  if (!Array.isArray(value)) return `${path}: ${what} must be an array of positions, got ${describeType(value)}`;
  if (value.length < minimum) return `${path}: ${what} needs at least ${minimum} positions, got ${value.length} (RFC 7946 §3.1)`;
  for (let i = 0; i < value.length; i++) {
    const problem = positionProblem(value[i], `${path}[${i}]`, budget);
    if (problem) return problem;
  }
  return null;
}

function samePosition(a: Position, b: Position): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

function ringProblem(value: unknown, path: string, budget: Budget): string | null {
  const problem = positionsProblem(value, path, budget, 4, 'a linear ring');
  if (problem) return problem;
  const ring = value as Position[];
  if (!samePosition(ring[0], ring[ring.length - 1])) {
    return `${path}: linear ring is not closed, its first and last positions differ (RFC 7946 §3.1.6)`;
  }
  return null;
}

/** Checks a non-empty array whose members each pass `member`. */
function listProblem(
  value: unknown,
  path: string,
  budget: Budget,
  what: string,
  member: (item: unknown, itemPath: string, budget: Budget) => string | null,
): string | null {
  if (!Array.isArray(value)) return `${path}: must be an array of ${what}, got ${describeType(value)}`;
  if (value.length === 0) return `${path}: must hold at least one ${what.replace(/s$/, '')}; use null for no geometry`;
  // Every valid member spends at least one position, so the position budget also bounds this loop.
  for (let i = 0; i < value.length; i++) {
    const problem = member(value[i], `${path}[${i}]`, budget);
    if (problem) return problem;
  }
  return null;
}

const lineStringProblem = (value: unknown, path: string, budget: Budget): string | null =>
  positionsProblem(value, path, budget, 2, 'a LineString');
const polygonProblem = (value: unknown, path: string, budget: Budget): string | null =>
  listProblem(value, path, budget, 'linear rings', ringProblem);

/** How deeply each type's coordinates nest: a position is one array. */
const COORDINATE_DEPTH: Readonly<Record<string, number>> = {
  Point: 1,
  MultiPoint: 2,
  LineString: 2,
  MultiLineString: 3,
  Polygon: 3,
  MultiPolygon: 4,
};

/** Array depth along the first members, or null where an empty array hides it. */
function firstPathDepth(value: unknown): number | null {
  let depth = 0;
  let current = value;
  while (Array.isArray(current) && depth <= 4) {
    if (current.length === 0) return null;
    depth++;
    current = current[0];
  }
  return depth;
}

function coordinatesProblem(type: string, coordinates: unknown, path: string, budget: Budget): string | null {
  const expectedDepth = COORDINATE_DEPTH[type];
  const depth = firstPathDepth(coordinates);
  if (depth !== null && depth !== 0 && depth !== expectedDepth) {
    return `${path}: arrays nest ${depth > 4 ? 'more than 4' : depth} deep, a ${type} needs ${expectedDepth} (RFC 7946 §3.1)`;
  }
  switch (type) {
    case 'Point':
      return positionProblem(coordinates, path, budget);
    case 'MultiPoint':
      return listProblem(coordinates, path, budget, 'positions', positionProblem);
    case 'LineString':
      return lineStringProblem(coordinates, path, budget);
    case 'MultiLineString':
      return listProblem(coordinates, path, budget, 'LineStrings', lineStringProblem);
    case 'Polygon':
      return polygonProblem(coordinates, path, budget);
    case 'MultiPolygon':
      return listProblem(coordinates, path, budget, 'Polygons', polygonProblem);
    default:
      return `${path}: unknown geometry type ${type}`;
  }
}

function geometryProblem(value: unknown, path: string, budget: Budget, collectionDepth: number): string | null {
  const where = path === '' ? 'geometry' : path;
  if (!isObject(value)) return `${where}: a GeoJSON geometry must be an object, got ${describeType(value)} (RFC 7946 §3.1)`;
  const type = value.type;
  if (typeof type !== 'string' || !GEOMETRY_TYPES.includes(type)) {
    const shown = typeof type === 'string' ? `'${type.slice(0, 40)}'` : describeType(type);
    return `${where}: type ${shown} is not a GeoJSON geometry type (${GEOMETRY_TYPES.join(', ')}) (RFC 7946 §3.1)`;
  }
  const prefix = path === '' ? '' : `${path}.`;
  if (type === 'GeometryCollection') {
    if (collectionDepth >= GEOJSON_LIMITS.maxCollectionDepth) {
      return `${where}: GeometryCollections nest deeper than ${GEOJSON_LIMITS.maxCollectionDepth} levels (RFC 7946 §3.1.8)`;
    }
    return listProblem(value.geometries, `${prefix}geometries`, budget, 'geometries', (member, memberPath, b) =>
      geometryProblem(member, memberPath, b, collectionDepth + 1),
    );
  }
  if (!('coordinates' in value)) return `${where}: a ${type} needs a coordinates member (RFC 7946 §3.1)`;
  return coordinatesProblem(type, value.coordinates, `${prefix}coordinates`, budget);
}

/** RFC 7946 geometry, as an object or a JSON string: null when valid, else the first rule it breaks and where. */
export function checkGeoJsonGeometry(value: unknown): string | null {
  let geometry = value;
  if (typeof value === 'string') {
    const parsed = parseGeometryText(value);
    if ('problem' in parsed) return parsed.problem;
    geometry = parsed.value;
  }
  return geometryProblem(geometry, '', { remaining: GEOJSON_LIMITS.maxPositions }, 0);
}
