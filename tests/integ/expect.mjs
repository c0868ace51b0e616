export const USER_COLUMNS = [
  'clerk_id', 'email', 'email_verified', 'phone', 'username', 'first_name', 'last_name', 'image_url',
  'external_id', 'public_metadata', 'banned', 'locked', 'last_sign_in_at', 'clerk_created_at',
  'clerk_updated_at', 'clerk_data', 'deleted_at',
];
export const APP_COLUMNS = ['birthday', 'country', 'bio'];
export const PERSONAL_COLUMNS = [
  'email', 'email_verified', 'phone', 'username', 'first_name', 'last_name', 'image_url', 'external_id',
  'public_metadata', 'clerk_data',
];
const JSON_COLUMNS = new Set(['public_metadata', 'clerk_data', 'permissions']);

export const HANDLED_TYPES = new Set([
  'user.created', 'user.updated', 'user.deleted',
  'organization.created', 'organization.updated', 'organization.deleted',
  'organizationMembership.created', 'organizationMembership.updated', 'organizationMembership.deleted',
]);

export const ORG_COLUMNS = [
  'clerk_id', 'name', 'slug', 'image_url', 'created_by', 'public_metadata', 'clerk_created_at',
  'clerk_updated_at', 'clerk_data', 'deleted_at',
];
export const ORG_PERSONAL_COLUMNS = ['name', 'slug', 'image_url', 'created_by', 'public_metadata', 'clerk_data'];
export const MEMBER_COLUMNS = [
  'clerk_id', 'org_clerk_id', 'user_clerk_id', 'role', 'permissions', 'public_metadata', 'clerk_created_at',
  'clerk_updated_at', 'deleted_at',
];

const nil = (v) => (v === undefined ? null : v);

export function msToDatetime(ms) {
  if (ms < 1e11) ms *= 1000;
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

function primary(list, id) {
  if (!id || !Array.isArray(list)) return null;
  return list.find((e) => e && e.id === id) || null;
}

export function expectedUser(data, { syncPrivate = false } = {}) {
  const email = primary(data.email_addresses, data.primary_email_address_id);
  const phone = primary(data.phone_numbers, data.primary_phone_number_id);
  const clerkData = { ...data };
  if (!syncPrivate) delete clerkData.private_metadata;
  return {
    clerk_id: data.id,
    email: email ? email.email_address : null,
    email_verified: email ? (email.verification && email.verification.status === 'verified' ? 1 : 0) : null,
    phone: phone ? phone.phone_number : null,
    username: nil(data.username),
    first_name: nil(data.first_name),
    last_name: nil(data.last_name),
    image_url: nil(data.image_url),
    external_id: nil(data.external_id),
    public_metadata: nil(data.public_metadata),
    banned: data.banned ? 1 : 0,
    locked: data.locked ? 1 : 0,
    last_sign_in_at: nil(data.last_sign_in_at),
    clerk_created_at: nil(data.created_at),
    clerk_updated_at: nil(data.updated_at),
    clerk_data: clerkData,
    deleted_at: null,
  };
}

export function expectedDeleted(before, event, { keep = false } = {}) {
  const row = before
    ? { ...before }
    : Object.fromEntries(USER_COLUMNS.map((c) => [c, null]));
  if (!before) {
    row.clerk_id = event.data.id;
    row.banned = 0;
    row.locked = 0;
  }
  if (!keep) for (const c of PERSONAL_COLUMNS) row[c] = null;
  row.deleted_at = msToDatetime(event.timestamp);
  return row;
}

// An organizations row as clerksync writes it from an organization
// object (of organization.* or a membership's snapshot).
export function expectedOrg(o, { syncPrivate = false } = {}) {
  const clerkData = { ...o };
  if (!syncPrivate) delete clerkData.private_metadata;
  return {
    clerk_id: o.id,
    name: nil(o.name),
    slug: nil(o.slug),
    image_url: nil(o.image_url),
    created_by: nil(o.created_by),
    public_metadata: nil(o.public_metadata),
    clerk_created_at: nil(o.created_at),
    clerk_updated_at: nil(o.updated_at),
    clerk_data: clerkData,
    deleted_at: null,
  };
}

export function expectedOrgDeleted(before, event, { keep = false } = {}) {
  const row = before ? { ...before } : Object.fromEntries(ORG_COLUMNS.map((c) => [c, null]));
  if (!before) row.clerk_id = event.data.id;
  if (!keep) for (const c of ORG_PERSONAL_COLUMNS) row[c] = null;
  row.deleted_at = msToDatetime(event.timestamp);
  return row;
}

// An organization_memberships row from a membership object; deletedAt in ms.
export function expectedMember(d, deletedAt = null) {
  return {
    clerk_id: d.id,
    org_clerk_id: d.organization.id,
    user_clerk_id: d.public_user_data.user_id,
    role: nil(d.role),
    permissions: nil(d.permissions),
    public_metadata: nil(d.public_metadata),
    clerk_created_at: nil(d.created_at),
    clerk_updated_at: nil(d.updated_at),
    deleted_at: deletedAt === null ? null : msToDatetime(deletedAt),
  };
}

export function normaliseRow(r, columns) {
  const out = {};
  for (const c of columns) {
    let v = r[c];
    if (JSON_COLUMNS.has(c) && typeof v === 'string') v = JSON.parse(v);
    if (typeof v === 'bigint') v = Number(v);
    out[c] = v === undefined ? null : v;
  }
  return out;
}

export function normaliseUser(r) {
  const out = {};
  for (const c of USER_COLUMNS) {
    let v = r[c];
    if (JSON_COLUMNS.has(c) && typeof v === 'string') v = JSON.parse(v);
    if (typeof v === 'bigint') v = Number(v);
    out[c] = v === undefined ? null : v;
  }
  return out;
}

export function answer(res) {
  if (!res) return null;
  const a = { status: res.status };
  if (res.json && typeof res.json === 'object') {
    if ('status' in res.json) a.body = res.json.status;
    if ('error' in res.json) a.error = res.json.error;
  } else {
    a.raw = res.raw && res.raw.slice(0, 200);
  }
  return a;
}

export function errorShapeOk(res) {
  return (
    res.json && typeof res.json === 'object' && !Array.isArray(res.json) &&
    typeof res.json.error === 'string' && typeof res.json.message === 'string'
  );
}
