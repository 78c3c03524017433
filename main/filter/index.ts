/** Display filters (Wireshark's language): compile, then run over a session's packet index. docs/display-filters.md */
export { compileDisplayFilter, describeFilterError, type CompileResult, type DisplayFilter, type FilterError } from './compile.js';
export { runFilter } from './run.js';
export { FilterContext, type PacketSource } from './context.js';
export { fieldNames } from './fields.js';
