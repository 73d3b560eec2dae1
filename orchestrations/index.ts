// Registers its functions on import; filled in by the module's owner.
export {};
