// lathe/nn (being written).
export {};
