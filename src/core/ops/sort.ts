// sort ops (being written).
export {};
