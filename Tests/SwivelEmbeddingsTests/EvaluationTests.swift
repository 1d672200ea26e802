import Foundation
import SwivelLinearAlgebra
import SwivelTestSupport
import Testing
@testable import SwivelEmbeddings

@Suite struct EvaluationTests {
    @Test func ranksShareTiesAndSpearmanMatchesHandValues() throws {
        #expect(Statistics.ranks([10, 20, 20, 5]) == [2, 3.5, 3.5, 1])
        // x ranks [1,2,3,4,5], y ranks [2,1,4,3,5]: rho = 1 - 6*sum(d^2)/(n(n^2-1)) = 1 - 6*4/120 = 0.8
        let rho = try Statistics.spearman([1, 2, 3, 4, 5], [0.2, 0.1, 0.4, 0.3, 0.9])
        #expect(abs(rho - 0.8) < 1e-12)
        #expect(abs(try Statistics.pearson([1, 2, 3], [2, 4, 6]) - 1) < 1e-12)
    }

    @Test func undefinedCorrelationsSayWhy() {
        func reason(_ x: [Double], _ y: [Double]) -> UndefinedCorrelation? {
            do { _ = try Statistics.spearman(x, y); return nil } catch { return error }
        }
        #expect(reason([], []) == .tooFewPairs(covered: 0) && reason([1], [2]) == .tooFewPairs(covered: 1))
        // 0.1 three times has a mean that rounds away from 0.1: a constant series all the same.
        #expect(reason([0.1, 0.1, 0.1], [1, 2, 3]) == .constantHumanScores)
        #expect(reason([1, 2, 3], [0.1, 0.1, 0.1]) == .constantModelSimilarities)
        #expect(reason([1, 2, 3], [0.5, .nan, 0.1]) == .nonFiniteValue && reason([1, .infinity], [1, 2]) == .nonFiniteValue)
        #expect(UndefinedCorrelation.tooFewPairs(covered: 1).description == "1 pair covered; needs 2")
        #expect(reason([1, 2], [2, 1]) == nil)
    }

    @Test func similarityResultsRoundTripThroughJSON() throws {
        let half = SimilarityHalf(pairs: 1, covered: 1, spearman: nil, undefinedReason: .tooFewPairs(covered: 1),
                                  minCount: 3, maxCount: 3)
        let result = SimilarityResult(file: "f", pairs: 3, covered: 2, spearman: 0.5, pearson: -0.25, rare: half,
                                      frequent: SimilarityHalf(pairs: 2, covered: 2, spearman: 1, minCount: 4, maxCount: 9))
        #expect(try JSONDecoder().decode(SimilarityResult.self, from: JSONEncoder().encode(result)) == result)
        let unknown = Data(#"{"pairs": 1, "covered": 0, "spearman": null, "undefinedReason": "why not", "minCount": 1, "maxCount": 1}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SimilarityHalf.self, from: unknown) }
    }

    @Test func similarityScoresCoveredPairsOnly() throws {
        let e = Embeddings(tokens: ["a", "b", "c", "d"],
                           vectors: Matrix(rows: 4, columns: 2, values: [1, 0, 0.9, 0.1, 0, 1, -1, 0.2]))
        let file = try TemporaryFile.write("a\tb\t9\na\tc\t5\na\td\t1\na\tzzz\t3\n")
        let r = try SimilarityBenchmark(path: file).evaluate(e)
        #expect(r.pairs == 4 && r.covered == 3)
        #expect(abs(try #require(r.spearman) - 1) < 1e-12)   // cosines 0.99, 0, -0.98 are in the human order
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

    @Test func nonFiniteScoresAreErrorsNamingTheFileAndLine() throws {
        for score in ["nan", "NaN", "inf", "-inf", "infinity"] {
            let file = try TemporaryFile.write("a\tb\t9\n# a comment\nking queen \(score)\na\tc\t5\n")
            let error = #expect(throws: EvaluationError.self) { try SimilarityBenchmark(path: file) }
            #expect(error?.description == "\(file):3: score '\(score)' is not a finite number")
        }
        let file = try TemporaryFile.write("a\tb\tnine\n")
        let error = #expect(throws: EvaluationError.self) { try SimilarityBenchmark(path: file) }
        #expect(error?.description == "\(file):1: score 'nine' is not a number")
    }

    @Test func undefinedCorrelationsAreNullWithTheirReason() throws {
        let e = Embeddings(tokens: ["a", "b", "c", "d"],
                           vectors: Matrix(rows: 4, columns: 2, values: [1, 0, 0.9, 0.1, 0, 1, -1, 0.2]))
        // Every vector the same: every cosine is 1.
        let same = Embeddings(tokens: ["a", "b", "c", "d"], vectors: Matrix(rows: 4, columns: 2, values: [Float](repeating: 1, count: 8)))
        func json(_ result: SimilarityResult) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(result)) as! [String: Any]
        }
        for (text, vectors, reason) in [
            ("a\tb\t9\na\tzzz\t3\n", e, "1 pair covered; needs 2"),
            ("zzz\tb\t9\na\tzzz\t3\n", e, "0 pairs covered; needs 2"),
            ("a\tb\t5\na\tc\t5\na\td\t5\n", e, "every covered pair has the same human score"),
            ("a\tb\t9\na\tc\t5\na\td\t1\n", same, "every covered pair has the same model similarity"),
        ] {
            let r = try SimilarityBenchmark(path: try TemporaryFile.write(text)).evaluate(vectors)
            let object = try json(r)
            #expect(object["spearman"] is NSNull && object["pearson"] is NSNull, "\(object)")
            #expect(object["undefinedReason"] as? String == reason, "\(object)")
        }
        // A defined result keeps its numbers and has no reason.
        let defined = try json(SimilarityBenchmark(path: try TemporaryFile.write("a\tb\t9\na\tc\t5\na\td\t1\n")).evaluate(e))
        #expect(defined["spearman"] as? Double == 1 && defined["pearson"] is Double && defined["undefinedReason"] == nil)
        // Halves of one pair each are undefined; the whole set is not.
        let halves = try SimilarityBenchmark(path: try TemporaryFile.write("a\tb\t9\na\td\t1\n"))
            .evaluate(e, frequencies: ["a": 9, "b": 1, "d": 5])
        let object = try json(halves)
        let rare = object["rare"] as? [String: Any]
        #expect(object["spearman"] as? Double == 1 && rare?["spearman"] is NSNull
                && rare?["undefinedReason"] as? String == "1 pair covered; needs 2", "\(object)")
    }

    @Test func benchmarkReadersSkipBlankLinesAndRefuseMalformedOrEmptyFiles() throws {
        // CRLF files and lines of blanks only are read as blank lines.
        let analogy = try AnalogyBenchmark(path: try TemporaryFile.write(": capitals\r\na b c d\r\n\r\n  \t\r\nb c d a\r\n"))
        #expect(analogy.questions == [["a", "b", "c", "d"], ["b", "c", "d", "a"]] && analogy.sections == ["capitals"])
        let similarity = try SimilarityBenchmark(path: try TemporaryFile.write("a\tb\t9\r\n\r\n \r\nc\td\t1\r\n"))
        #expect(similarity.pairs.map(\.2) == [9, 1])
        for (text, line, reason) in [
            ("a b c d\n:\nb c d a\n", 2, "a section line needs a name (': name')"),
            ("a b c d\n: \t\nb c d a\n", 2, "a section line needs a name (': name')"),
            ("a b c d\na b c\n", 2, "expected a<TAB>b<TAB>c<TAB>d, found 3 fields"),
        ] {
            let file = try TemporaryFile.write(text)
            let error = #expect(throws: EvaluationError.self) { try AnalogyBenchmark(path: file) }
            #expect(error?.description == "\(file):\(line): \(reason)")
        }
        let fields = try TemporaryFile.write("a\tb\t9\na b c 4\n")
        let fieldsError = #expect(throws: EvaluationError.self) { try SimilarityBenchmark(path: fields) }
        #expect(fieldsError?.description == "\(fields):2: expected word1<TAB>word2<TAB>score, found 4 fields")
        // A file with nothing to score is an error, not a score of 0 or an undefined one.
        let empty = try TemporaryFile.write("# nothing here\n\n")
        let noQuestions = #expect(throws: EvaluationError.self) { try AnalogyBenchmark(path: empty) }
        #expect(noQuestions?.description == "\(empty): no questions (expected a<TAB>b<TAB>c<TAB>d lines)")
        let noPairs = #expect(throws: EvaluationError.self) { try SimilarityBenchmark(path: empty) }
        #expect(noPairs?.description == "\(empty): no pairs (expected word1<TAB>word2<TAB>score lines)")
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
