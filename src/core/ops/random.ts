// random ops (being written).
export {};
