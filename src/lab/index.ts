/** The lab: a simulated fleet on loopback that behaves as the manuals say (docs/lab.md). */
export { startLab, type Lab, type LabOptions } from "./lab.ts";
export { mapAddresses, type AddressMapping, CONTROL_ADDRESS } from "./address-map.ts";
export { FAULT_KINDS, FAULT_HELP, type FaultKind, type FaultSpec } from "./faults.ts";
export { labPaths, readRecord, type LabRecord, type LabServerInfo } from "./record.ts";
export { ManualScheduler, TimerWheel, type Scheduler } from "./clock.ts";
export type { LabStatus, ApplianceStatus, ActionReply, ActionRequest } from "./types.ts";
export type { LabViolation, JournalEntry } from "./journal.ts";
