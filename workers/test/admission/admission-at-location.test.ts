// Today's admission tests (admission.test.ts, unchanged) once more with every request admitted by a location object
// (`weur`) holding a slice of the tenant's limits instead of by the tenant's TenantGate, with the 20 ms simulated
// distance between them: exact N of 5N, concurrency, tpm, key rpm, headers, refunds, budgets, settles, revocation.
import { admitAtLocationByDefault } from '../../src/middleware/admission-location.ts'

admitAtLocationByDefault('weur')
await import('./admission.test.ts')
