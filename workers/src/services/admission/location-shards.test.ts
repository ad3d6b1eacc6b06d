import { afterEach, describe, expect, it } from 'vitest'
import { hintOfLocationName, leaseIssuer, locationName } from '../../../../durable-objects/admission-location/contract.ts'
import { learnTenantRpm, setLocationShardsForTests, shardFor } from './location-shards.ts'

afterEach(() => setLocationShardsForTests(null))

describe('location shards', () => {
  it('uses the first object until an admission has shown the tenant, then spreads a large tenant by its rpm', () => {
    setLocationShardsForTests(null, 0.6)
    expect(shardFor('t-big', 4)).toBe(0) // nothing known yet
    learnTenantRpm('t-big', 240_000) // 4 shards' worth
    expect(shardFor('t-big', 4)).toBe(2) // floor(0.6 * 4)
    expect(shardFor('t-big', 2)).toBe(1) // at most the configured count
    expect(shardFor('t-big', 1)).toBe(0)
    learnTenantRpm('t-mid', 100_000) // 2 shards' worth
    expect(shardFor('t-mid', 4)).toBe(1)
    learnTenantRpm('t-small', 600) // one object is plenty: splitting would only add round trips
    expect(shardFor('t-small', 4)).toBe(0)
    learnTenantRpm('t-unlimited', null) // no rpm limit: as large as its traffic
    expect(shardFor('t-unlimited', 4)).toBe(2)
  })

  it('names shards so that the hint and the lease issuer still read from the name', () => {
    expect(locationName('t1', 'apac')).toBe('loc:t1:apac')
    expect(locationName('t1', 'apac-ne', 3)).toBe('loc:t1:apac-ne:3')
    expect(hintOfLocationName('loc:t1:apac')).toBe('apac')
    expect(hintOfLocationName('loc:t1:apac-ne:3')).toBe('apac-ne')
    expect(hintOfLocationName('loc:t1:mars:2')).toBeNull()
    expect(leaseIssuer(`${locationName('t1', 'weur', 2)}#abc`)).toBe('loc:t1:weur:2')
  })
})
