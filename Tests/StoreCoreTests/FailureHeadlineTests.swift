import StoreCore
import Testing

@Suite("A failure's one-line headline")
struct FailureHeadlineTests {
    @Test(arguments: [
        (
            "pods failing: CrashLoopBackOff: pod shop-wordpress-0: container wordpress is in CrashLoopBackOff (restarted 3 times, last exit code 1); "
                + "events: Warning BackOff pod/shop-wordpress-0: Back-off restarting failed container wordpress | Normal Pulled pod/shop-wordpress-0: x",
            "CrashLoopBackOff: wordpress, exit 1"
        ),
        (
            "pods failing: ImagePullBackOff: pod shop-wordpress-0: container wordpress is waiting: ImagePullBackOff; events: Warning Failed pod/x: y",
            "ImagePullBackOff: wordpress"
        ),
        (
            "timed out after 600 s waiting for readiness (deadline 600 s); still not ready: deployment/shop-wordpress (0/1 ready)",
            "not ready after 600 s: deployment/shop-wordpress (0/1 ready)"
        ),
        (
            "helm install shop failed: Error: INSTALLATION FAILED: timed out waiting for the condition (simulated fault install-error)",
            "helm install failed: timed out waiting for the condition (simulated fault install-error)"
        ),
        (
            "kubectl delete namespace store-shop failed: Error from server (InternalError): Internal error occurred; namespace stuck",
            "kubectl delete failed: Error from server (InternalError): Internal error occurred"
        ),
        (
            "drift: release shop and namespace store-shop vanished from the cluster; retry to reinstall or delete the store",
            "drift: release shop and namespace store-shop vanished from the cluster"
        ),
        ("first line\nsecond line", "first line"),
        ("", ""),
    ])
    func knownShapesGetTheirGist(reason: String, headline: String) {
        #expect(FailureHeadline.of(reason) == headline)
    }

    @Test func aLongReasonIsCutToTheLimitWithAnEllipsis() {
        let headline = FailureHeadline.of(String(repeating: "x", count: 300))
        #expect(headline == String(repeating: "x", count: FailureHeadline.maxCharacters - 1) + "…")
        #expect(headline.count == FailureHeadline.maxCharacters)
    }

    /// The limit counts code points, as the API's schema does: a reason of
    /// characters made of several code points each is cut to 100 code points.
    @Test func theLimitCountsCodePoints() {
        // "é" written as e and a combining accent: one character, two code points.
        let headline = FailureHeadline.of(String(repeating: "e\u{301}", count: 80))
        #expect(headline.unicodeScalars.count <= FailureHeadline.maxCharacters)
        #expect(headline.hasSuffix("…"))
    }
}
