import { adapters } from '../support/shops'
import { runScenario } from './run-scenario'
import { type Scenario, scenarios } from './scenarios'

// One scenario table, both shops, real HTTP on loopback (CONTRACT.md).
describe.each(adapters)('$name shop', ({ createShop }) => {
  test.each(scenarios)('$row: $name', (scenario: Scenario) => runScenario(createShop, scenario))
})
