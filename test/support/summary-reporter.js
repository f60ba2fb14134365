// Prints the run's totals as the very last line, in the plain form that CI
// logs are read for: "964 passed, 0 failed" (", 3 skipped" when some were).
// Written when the process exits, after Jest's own summary.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests
    const line = `${results.numPassedTests} passed, ${results.numFailedTests} failed`
    const text = `${skipped > 0 ? `${line}, ${skipped} skipped` : line}\n`
    process.once('exit', () => process.stderr.write(text))
  }
}

module.exports = SummaryReporter
