import Foundation
import SwivelEmbeddings
import SwivelIO

/// Reads a model's training and evaluation logs into line charts.
public enum TrainingCurves {
    /// An SVG of the loss per epoch (one curve per ensemble member) and, when `eval_log.tsv` exists, the logged
    /// evaluation scores (undefined ones left out), read from `modelDirectory`; throws ``FileError`` naming a
    /// malformed training log.
    public static func svg(modelDirectory: String) throws -> String {
        let logPath = modelDirectory + "/" + ModelDirectory.trainingLog
        // One curve per ensemble member (the 4th column; logs written before ensembles have 3 columns).
        var loss: [[(x: Double, y: Double)]] = []
        for line in try FileReader.readText(logPath).split(separator: "\n").dropFirst() {
            let f = line.split(separator: "\t")
            guard f.count >= 2, let epoch = Double(f[0]), let value = Double(f[1]) else {
                throw FileError.corrupt(path: logPath, reason: "malformed line '\(line)'")
            }
            let member = f.count >= 4 ? Int(f[3]) ?? 1 : 1
            guard member >= 1 && member <= 64 else { throw FileError.corrupt(path: logPath, reason: "malformed line '\(line)'") }
            while loss.count < member { loss.append([]) }
            loss[member - 1].append((epoch, value))
        }
        guard loss.contains(where: { !$0.isEmpty }) else { throw FileError.corrupt(path: logPath, reason: "no epochs logged") }
        let lossSeries = loss.enumerated().filter { !$0.element.isEmpty }.map { member, points in
            SVGChart.Series(name: loss.count > 1 ? "member \(member + 1)" : "mean loss per cell", points: points)
        }
        var panels = [SVGChart.Panel(series: lossSeries,
                                     title: "Training loss", xTitle: "epoch", yTitle: "mean loss per cell")]
        let evalPath = modelDirectory + "/" + ModelDirectory.evaluationLog
        if FileReader.exists(evalPath) {
            var series: [String: [(x: Double, y: Double)]] = [:], order: [String] = []
            for line in try FileReader.readText(evalPath).split(separator: "\n").dropFirst() {
                let f = line.split(separator: "\t")
                // An undefined score (logged as `undefined`; logs written before that held `nan`) is a gap in
                // its curve; a line cut short by a crash during its write is skipped too.
                guard f.count == 4, let epoch = Double(f[0]), let value = Double(f[3]), value.isFinite else { continue }
                let name = "\((f[1] as NSString).lastPathComponent) \(f[2])"
                if series[name] == nil { order.append(name) }
                series[name, default: []].append((epoch, value))
            }
            if !order.isEmpty {
                panels.append(SVGChart.Panel(series: order.map { SVGChart.Series(name: $0, points: series[$0]!) },
                                             title: "Evaluation during training",
                                             xTitle: loss.count > 1 ? "epoch (counted across ensemble members)" : "epoch", yTitle: "score"))
            }
        }
        return SVGChart.lines(panels)
    }
}
