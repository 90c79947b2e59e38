// scan ops (being written).
export {};
