import Foundation
import SwivelLinearAlgebra
import SwivelTestSupport
import Testing
@testable import SwivelEmbeddings

@Suite struct EvaluationTests {
    @Test func ranksShareTiesAndSpearmanMatchesHandValues() {
        #expect(Statistics.ranks([10, 20, 20, 5]) == [2, 3.5, 3.5, 1])
        // x ranks [1,2,3,4,5], y ranks [2,1,4,3,5]: rho = 1 - 6*sum(d^2)/(n(n^2-1)) = 1 - 6*4/120 = 0.8
        let rho = Statistics.pearson(Statistics.ranks([1, 2, 3, 4, 5]), Statistics.ranks([0.2, 0.1, 0.4, 0.3, 0.9]))
        #expect(abs(rho - 0.8) < 1e-12)
        #expect(abs(Statistics.pearson([1, 2, 3], [2, 4, 6]) - 1) < 1e-12)
    }

    @Test func similarityScoresCoveredPairsOnly() throws {
        let e = Embeddings(tokens: ["a", "b", "c", "d"],
                           vectors: Matrix(rows: 4, columns: 2, values: [1, 0, 0.9, 0.1, 0, 1, -1, 0.2]))
        let file = try TemporaryFile.write("a\tb\t9\na\tc\t5\na\td\t1\na\tzzz\t3\n")
        let r = try SimilarityBenchmark(path: file).evaluate(e)
        #expect(r.pairs == 4 && r.covered == 3)
        #expect(abs(r.spearman - 1) < 1e-12)   // cosines 0.99, 0, -0.98 are in the human order
    }

    @Test func similarityHalvesSplitByTheRarerWordsCount() throws {
        // Angles give cos(a,b) = cos 80°, cos(c,d) = cos 10°, cos(e,f) = cos 20°, cos(g,h) = cos 70°.
        func unit(_ degrees: Double) -> [Float] { [Float(cos(degrees * .pi / 180)), Float(sin(degrees * .pi / 180))] }
        let e = Embeddings(tokens: ["a", "b", "c", "d", "e", "f", "g", "h"],
                           vectors: Matrix(rows: 8, columns: 2, values: unit(0) + unit(80) + unit(0) + unit(10)
                                           + unit(0) + unit(20) + unit(0) + unit(70)))
        let file = try TemporaryFile.write("a\tb\t1\nc\td\t2\ne\tf\t3\ng\th\t4\nx\ta\t5\n")
        let counts: [String: Int64] = ["a": 1, "b": 100, "c": 2, "d": 100, "e": 50, "f": 60, "g": 70, "h": 80]
        let r = try SimilarityBenchmark(path: file).evaluate(e, frequencies: counts)
        // Rare half: pairs 1 and 2 (rarer words seen 1 and 2 times); human order agrees with cosine order.
        #expect(r.rare == SimilarityHalf(pairs: 2, covered: 2, spearman: 1, minCount: 1, maxCount: 2))
        // Frequent half: pairs 3 and 4 (50 and 70); human order is the reverse of cosine order.
        #expect(r.frequent == SimilarityHalf(pairs: 2, covered: 2, spearman: -1, minCount: 50, maxCount: 70))
        #expect(try r.covered == 4 && SimilarityBenchmark(path: file).evaluate(e).rare == nil)
    }

    @Test func analogiesMatchABruteForceSearch() throws {
        // Random vectors: the batched SGEMM answers must equal a plain loop over every word.
        var state: UInt64 = 99
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
        let n = 300, d = 10
        let tokens = (0..<n).map { "w\($0)" }
        let e = Embeddings(tokens: tokens, vectors: Matrix(rows: n, columns: d, values: (0..<(n * d)).map { _ in next() }))
        var unit = e.vectors
        unit.normalizeRows()
        var lines = [": first"]
        var expectedAdd = 0
        for q in 0..<600 {
            if q == 300 { lines.append(": second") }
            let a = Int(state >> 33) % n; _ = next()
            let b = Int(state >> 33) % n; _ = next()
            let c = Int(state >> 33) % n; _ = next()
            guard Set([a, b, c]).count == 3 else { continue }
            var best = -Float.infinity, bestID = -1
            for w in 0..<n where w != a && w != b && w != c {
                var s: Float = 0
                for k in 0..<d { s += unit[w, k] * (unit[b, k] - unit[a, k] + unit[c, k]) }
                if s > best { best = s; bestID = w }
            }
            // Half the questions expect the true answer, half a wrong one.
            let answer = q % 2 == 0 ? bestID : (bestID + 1) % n
            if q % 2 == 0 { expectedAdd += 1 }
            lines.append("w\(a)\tw\(b)\tw\(c)\tw\(answer)")
        }
        lines.append("w1\tw2\tw3\tunknown")
        let file = try TemporaryFile.write(lines.joined(separator: "\n") + "\n")
        let result = try AnalogyBenchmark(path: file).evaluate(e, restrict: 0)
        #expect(result.map(\.name) == ["all", "first", "second"])
        let all = result[0]
        #expect(all.add.correct == expectedAdd)
        #expect(all.covered == all.questions - 1)
        #expect(abs(all.add.accuracyAll - Double(expectedAdd) / Double(all.questions)) < 1e-12)
        #expect(result[1].questions + result[2].questions == all.questions)
    }
}
