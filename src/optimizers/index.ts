// lathe/optimizers (being written).
export {};
