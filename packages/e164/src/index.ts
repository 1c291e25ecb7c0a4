export type { E164Number, E164ErrorCode } from './e164.js';
export {
  DEFAULT_ENUM_APEX,
  E164Error,
  enumNameFor,
  enumNameOfParsed,
  isE164Error,
  normaliseApex,
  numberFromEnumName,
  parseE164,
} from './e164.js';
