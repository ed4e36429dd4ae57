/** Injection tokens of the module (strings, as @nestjs/schedule does). */
export const ZAB_REPLICA = 'ZAB_REPLICA';
export const ZAB_CLIENT = 'ZAB_CLIENT';
/** Internal: the resolved options (replica or connect mode). */
export const ZAB_RESOLVED_OPTIONS = 'ZAB_RESOLVED_OPTIONS';
