/**
 * Every error Sprout raises on purpose has a code in this one table, with the HTTP
 * status it maps to. Codes are stable: clients and tests match on them, never on text.
 */
export const errorCodes = {
  SPROUT_ERR_VALIDATION: { status: 400, title: 'Request is invalid' },
  SPROUT_ERR_UNAUTHENTICATED: { status: 401, title: 'Authentication required' },
  SPROUT_ERR_FORBIDDEN: { status: 403, title: 'Not allowed' },
  SPROUT_ERR_NOT_FOUND: { status: 404, title: 'Not found' },
  SPROUT_ERR_CONFLICT: { status: 409, title: 'Conflict with the current state' },
  SPROUT_ERR_ILLEGAL_TRANSITION: { status: 409, title: 'Action not allowed in the current state' },
  SPROUT_ERR_NETWORK_EXHAUSTED: { status: 409, title: 'No free address in the network' },
  SPROUT_ERR_NO_MATCHING_MACHINE: { status: 409, title: 'No ready machine matches the constraints' },
  SPROUT_ERR_PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body too large' },
  SPROUT_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  SPROUT_ERR_RATE_LIMITED: { status: 429, title: 'Too many requests' },
  SPROUT_ERR_INTERNAL: { status: 500, title: 'Internal error' },
  SPROUT_ERR_NOT_IMPLEMENTED: { status: 501, title: 'Not implemented by this provider' },
  SPROUT_ERR_BMC: { status: 502, title: "The machine's BMC refused or failed the power operation" },
  SPROUT_ERR_UNAVAILABLE: { status: 503, title: 'Service unavailable' },
  SPROUT_ERR_AGENT_TIMEOUT: { status: 504, title: "The site's agent did not answer in time" },
  SPROUT_ERR_CONFIG: { status: 500, title: 'Configuration is invalid' },
  SPROUT_ERR_PLUGIN_VALIDATION: { status: 500, title: 'Plugins failed boot validation' },
  SPROUT_ERR_HOOK_FAILED: { status: 500, title: 'A plugin hook failed' },
  SPROUT_ERR_DATA_DIR_LOCKED: { status: 500, title: 'Data directory is in use by another process' },
  SPROUT_ERR_CAPABILITY_UNAVAILABLE: { status: 503, title: 'No provider for a capability' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCodes;
