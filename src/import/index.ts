/** import/: fleet files made from other tools' inventories (docs/import.md). The CLI's way in. */
export { readInventory, varsFoldersBeside, writeFleetAtomically } from "./files.ts";
export { parseInventory } from "./ansible.ts";
export { inventoryToFleet } from "./to-fleet.ts";
