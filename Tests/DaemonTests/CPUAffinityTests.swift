import Testing

@testable import storeplatformd

@Suite struct CPUAffinityTests {
    @Test func countsTheAllowedList() {
        let status = "Name:\tstoreplatformd\nCpus_allowed:\t0f\nCpus_allowed_list:\t0-3,8,10-11\nMems_allowed_list:\t0\n"
        #expect(CPUAffinity.allowedCount(procStatus: status) == 7)
        #expect(CPUAffinity.allowedCount(procStatus: "Cpus_allowed_list:\t0\n") == 1)
        #expect(CPUAffinity.allowedCount(procStatus: "Cpus_allowed_list:\t3-1\n") == nil)
        #expect(CPUAffinity.allowedCount(procStatus: "Cpus_allowed_list:\tx\n") == nil)
        #expect(CPUAffinity.allowedCount(procStatus: "Cpus_allowed_list:\t\n") == nil)
        #expect(CPUAffinity.allowedCount(procStatus: "Name:\tx\n") == nil)
        // This process can run somewhere.
        #expect((CPUAffinity.allowedCount() ?? 0) >= 1)
    }
}
