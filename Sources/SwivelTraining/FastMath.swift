/// Vectorised exp and log1p for the loss pass, accurate to a few float ulps on the ranges used.
///
/// Measured against libm over the ranges the loss uses (tests in `FastMathTests`): relative error of
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
        let t = x * log2e + roundingMagic
        let n = t - roundingMagic
        let r = x - n * ln2High - n * ln2Low           // |r| <= ln2 / 2
        // Taylor polynomial of e^r to degree 6: truncation error r^7/5040 < 1.1e-7 relative.
        var p: SIMD8<Float> = SIMD8(repeating: 1.0 / 720)
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
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
        p = p * s2 + 1.0 / 9
        p = p * s2 + 1.0 / 7
        p = p * s2 + 1.0 / 5
        p = p * s2 + 1.0 / 3
        p = p * s2 + 1
        return 2 * s * p
    }
}
