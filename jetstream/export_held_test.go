package jetstream

// HistoryMaxHeld is historyMaxHeld, for the external tests.
const HistoryMaxHeld = historyMaxHeld
