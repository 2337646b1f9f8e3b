/// The command line's verbs and options (Argu). Every verb takes -h as --help; `--name=value` is
/// split into `--name value` before parsing (`Program.splitAssignments`).
module RnnFun.Cli.Args

open Argu

[<HelpFlags("--help", "-h")>]
type SweepArgs =
    | Config of path: string
    | Preset of name: string
    | Quick
    | [<Mandatory>] Out of folder: string
    | Engine of name: string
    | Member_Index of index: int
    | Members of indices: string
    | Batched
    | Partition of name: string
    | Time of limit: string
    | Mem of size: string
    | Cpus_Per_Task of count: int
    | Sbatch_Arg of argument: string
    | Quiet

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Config _ -> "the sweep config (rnnfun.sweep JSON: a grid or a list of members; docs/formats.md)."
            | Preset _ -> "a built-in sweep instead of --config: flipflop-kinds (rnn, gru and lstm, 3 seeds each, 64 units, on the 3-bit flip-flop)."
            | Quick -> "with --preset: a tiny version (tens of seconds), too little training for the science."
            | Out _ -> "the sweep's folder: members/<id>/, comparison.json, summary.json, report.html. Rerunning resumes: finished members are skipped."
            | Engine _ -> "local (default: every member here, one after another) or slurm (one job-array task per member, or per group with --batched, through sbatch; gathered here when the array ends)."
            | Member_Index _ -> "run only this member (0-based, the order of DIR/sweep.json) and write no comparison: what each Slurm array task runs."
            | Members _ -> "run only these members (comma-separated 0-based indices, e.g. 0,3,5) and write no comparison: what each Slurm array task of a batched sweep runs."
            | Batched -> "members of one task, kind, units, trial length, batch size and trials per epoch train as one batched program (Population.fit) instead of one by one: the same networks, but slower on a CPU (0.77x, docs/performance.md); for when per-op overhead dominates. Also \"batched\": true in the config. Slurm: one array task per group."
            | Partition _ -> "with --engine slurm: sbatch --partition."
            | Time _ -> "with --engine slurm: sbatch --time per array task (e.g. 00:30:00)."
            | Mem _ -> "with --engine slurm: sbatch --mem per array task (e.g. 4G)."
            | Cpus_Per_Task _ -> "with --engine slurm: sbatch --cpus-per-task."
            | Sbatch_Arg _ -> "with --engine slurm: one more sbatch argument, passed as given (repeatable: --sbatch-arg=--account=lab --sbatch-arg=--qos=short)."
            | Quiet -> "print only the summary."

[<HelpFlags("--help", "-h")>]
type CompareArgs =
    | [<Mandatory; AltCommandLine("-m")>] Model of path: string
    | Task of name: string
    | Data of path: string
    | Trials of count: int
    | Seed of seed: int
    | Delays of count: int
    | Rank of count: int
    | With_Topology
    | N_Init of count: int
    | [<Mandatory>] Out of path: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | N_Init _ -> "with --with-topology: initial states of each fixed-point search, sampled from the model's trajectories (default 1024)."
            | Model _ -> "a model file; give two or more (--model a.json --model b.json ...). Sizes and kinds may differ; inputs must match."
            | Task _ -> "run every model on trials of this task (flipflop, integrator, sine, ...; default flipflop)."
            | Data _ -> "run every model on the inputs of these trials instead (.npz with an array inputs, or a .npy of the inputs)."
            | Trials _ -> "trials generated from --task (default 32)."
            | Seed _ -> "seed of the task's trials, the fixed-point sampling and the topology runs (default 0)."
            | Delays _ -> "delays of the embedding for the dynamical distance (default 5)."
            | Rank _ -> "components kept of the delay-embedded states for the dynamical distance (default 10)."
            | With_Topology -> "also find each model's fixed points and topology (under zero input) and compare the graphs."
            | Out _ -> "the comparison file to write (rnnfun.comparison JSON)."

[<HelpFlags("--help", "-h")>]
type InfoArgs =
    | [<Mandatory; AltCommandLine("-m")>] Model of path: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "the model file (rnnfun.model JSON) to describe."

// The verbs added last are declared first, so that the other verbs' cases of the same names
// (declared after them) keep their unqualified names in the commands.
[<HelpFlags("--help", "-h")>]
type ContinueArgs =
    | [<Mandatory; AltCommandLine("-m")>] Model of path: string
    | Input_Index of index: int
    | Direction of values: string
    | Recurrent_Scale
    | [<Mandatory>] From of value: float
    | [<Mandatory>] To of value: float
    | Inputs of values: string
    | Step of length: float
    | Max_Step of length: float
    | Max_Steps of count: int
    | Box of range: string
    | N_Init of count: int
    | No_Switch
    | Seed of seed: int
    | [<Mandatory>] Out of path: string
    | Report of path: string
    | Quiet
    | Period_Two

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Period_Two -> "also trace the period-2 orbit born at each flip (fixed points of the map applied twice) and write it to OUT (period_two)."
            | Model _ -> "the model file."
            | Input_Index _ -> "vary input I (from 0): its value runs from --from to --to, the other inputs stay at --inputs."
            | Direction _ -> "vary the input along this direction, comma-separated (a context input): --inputs + p * DIRECTION."
            | Recurrent_Scale -> "vary a scale p on the recurrent weights (W_rec, or a gated cell's weight_hh), under the constant input --inputs."
            | From _ -> "the parameter at the start, where the fixed points are searched for and the branches start."
            | To _ -> "the parameter at the other end."
            | Inputs _ -> "the constant input (or the base input of --input-index/--direction), comma-separated (zeros by default)."
            | Step _ -> "first arclength step (default 0.02)."
            | Max_Step _ -> "largest arclength step (default 0.1)."
            | Max_Steps _ -> "steps per branch at most (default 2000)."
            | Box _ -> "initial states of the search at --from, uniform in [LO, HI]^N (default -1,1)."
            | N_Init _ -> "number of initial states of the search (default 1024)."
            | No_Switch -> "do not trace the second branch through a pitchfork or transcritical point."
            | Seed _ -> "seed of the initial states (default 0)."
            | Out _ -> "continuation file to write (rnnfun.continuation JSON)."
            | Report _ -> "also write an HTML report with the bifurcation diagram and the eigenvalues along the branches."
            | Quiet -> "print only the summary line."

[<HelpFlags("--help", "-h")>]
type LyapunovArgs =
    | [<Mandatory; AltCommandLine("-m")>] Model of path: string
    | Inputs of values: string
    | Task of name: string
    | Data of path: string
    | [<CustomCommandLine("--trials")>] Trial_Count of count: int
    | Steps of count: int
    | Transient of count: int
    | Exponents of count: int
    | Initial_State of values: string
    | Seed of seed: int
    | [<Mandatory>] Out of path: string
    | Report of path: string
    | Quiet

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "the model file."
            | Inputs _ -> "a constant input, comma-separated (zeros by default: the autonomous network); several constant inputs separated by ';' give one spectrum each."
            | Task _ -> "input-conditioned spectra: one per trial of this task's inputs (flipflop, integrator, ...), instead of a constant input."
            | Data _ -> "input-conditioned spectra: one per trial of a .npz file's inputs [trials; time; inputs] (each trial's length when it has lengths)."
            | Trial_Count _ -> "with --task or --data: at most this many trials (default 8)."
            | Steps _ -> "steps averaged over under a constant input (default 1000)."
            | Transient _ -> "steps run first and left out of the average (default 200; with --task or --data, 0)."
            | Exponents _ -> "the largest K exponents only (default: all)."
            | Initial_State _ -> "the state the trajectories start from, comma-separated (zeros by default)."
            | Seed _ -> "seed of the task's trials and of the initial frame (default 0)."
            | Out _ -> "Lyapunov file to write (rnnfun.lyapunov JSON)."
            | Report _ -> "also write an HTML report with the spectra."
            | Quiet -> "print only the summary line."

[<HelpFlags("--help", "-h")>]
type DemoArgs =
    | Out of dir: string
    | Seed of seed: int
    | Quick
    | Task of name: string
    | Kind of kind: string
    | Quiet

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Out _ -> "folder for every output (default ./rnnfun-demo)."
            | Seed _ -> "seed of the whole pipeline (default 0)."
            | Quick -> "a short version of each stage."
            | Task _ -> "flipflop (default) or integrator."
            | Kind _ -> "rnn, ctrnn (dt 5, tau 50), gru, lstm or ugrnn; the task preset's kind by default."
            | Quiet -> "print only the summary."

/// "flipflop 0.01, integrator 0.003, sine 0.01" (or "64 for every task"): a preset setting per task, read from the presets
/// themselves so that the help cannot drift from them.
let private perTask (setting: RnnFun.Preset -> string) =
    let values = RnnFun.Presets.names |> List.map (fun task -> task, setting (RnnFun.Presets.byName task 0))
    match values |> List.map snd |> List.distinct with
    | [ one ] -> one + " for every task"
    | _ -> values |> List.map (fun (task, value) -> task + " " + value) |> String.concat ", "

/// The network and settings `rnnfun train --data` starts from (the help reads them, as for the presets).
let private dataNetwork = RnnFun.Trials.networkConfig 0 { Inputs = [| 0.0f |]; Targets = None; Mask = None; Lengths = None; Trials = 1; Time = 1; InputSize = 1; OutputSize = 1 }
let private dataFit = RnnFun.Trials.fitConfig 0

[<HelpFlags("--help", "-h")>]
type TrainArgs =
    | Task of name: string
    | Data of path: string
    | Validation of path: string
    | Validation_Split of fraction: float
    | Kind of kind: string
    | Units of n: int
    | Epochs of n: int
    | Lr of rate: float
    | Batch_Size of n: int
    | Seq_Len of steps: int
    | Dale_Ratio of ratio: float
    | No_Autapses
    | Seed of seed: int
    | Seeds of seeds: string
    | Threads of n: int
    | [<Mandatory>] Out of path: string
    | Quiet

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Task _ -> "train a task's preset: flipflop, integrator, sine, perceptual-decision, context-decision, parametric-working-memory, delayed-match-to-sample, delayed-match-to-category, go-no-go, ready-set-go, yang-battery or yang-battery-small (or give --data)."
            | Data _ -> "train on trials of your own instead: a .npz file with arrays inputs [trials; time; inputs], targets [trials; time; outputs], optional mask and lengths (docs/formats.md)."
            | Validation _ -> "with --data: validation trials from this .npz file (same sizes)."
            | Validation_Split _ -> "with --data: hold out this fraction of its trials for validation, e.g. 0.1 (default: no validation)."
            | Kind _ -> "rnn, ctrnn (dt 5, tau 50), gru, lstm or ugrnn; the preset's kind by default (rnn with --data)."
            | Units _ -> sprintf "number of recurrent units (the task's preset: %s; with --data: %d)." (perTask (fun p -> string p.Network.Units)) dataNetwork.Units
            | Epochs _ -> sprintf "number of epochs (the task's preset: %s; with --data: %d passes over its trials)." (perTask (fun p -> string p.Fit.Epochs)) dataFit.Epochs
            | Lr _ -> sprintf "learning rate (the task's preset: %s; with --data: %g)." (perTask (fun p -> sprintf "%g" p.Fit.LearningRate)) dataFit.LearningRate
            | Batch_Size _ -> sprintf "trials per batch (the task's preset: %s; with --data: %d)." (perTask (fun p -> string p.Fit.BatchSize)) dataFit.BatchSize
            | Seq_Len _ -> sprintf "steps per trial (the task's preset: %s; not with --data)." (perTask (fun p -> string (p.Task.Generate 1 0).Time))
            | Dale_Ratio _ -> "fraction of excitatory units (Dale's law)."
            | No_Autapses -> "no unit projects onto itself."
            | Seed _ -> "seed of weights, data and noise (default 0)."
            | Seeds _ -> "train one network per seed as one batched program, e.g. 0-31 or 0,4,7-9 (rnn, ctrnn, gru, lstm, ugrnn); --out is then a folder that gets seed-<s>.json and its training log for each."
            | Threads _ -> "libtorch threads (default: 1 below 256 units, then one per 128 units, at most all cores)."
            | Out _ -> "model file to write (the best weights); a training log is written beside it."
            | Quiet -> "print only the final line."

[<HelpFlags("--help", "-h")>]
type FixedPointArgs =
    | [<Mandatory; AltCommandLine("-m")>] Model of path: string
    | Task of name: string
    | Data of path: string
    | Box of range: string
    | Initial_States of path: string
    | Inputs of values: string
    | Inputs_File of path: string
    | N_Init of count: int
    | Noise of scale: float
    | Tol_Q of q: float
    | Slow_Points
    | Slow_Iterations of count: int
    | No_Deflation
    | Timings
    | Seed of seed: int
    | [<Mandatory>] Out of path: string
    | Quiet
    | Certify
    | Linearisation
    | Exhaustive_Deflation
    | Lesion of units: string
    | Selection
    | Slow_Tolerance of tol: float
    | Slow_Measure of measure: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Selection -> "also write each point's slow modes (eigenvalue within --slow-tolerance of 1, or of 0 for a continuous-time kind) to OUT: the left eigenvector (selection vector), l' B u per input and the predicted end state x* + r (l' B u)."
            | Slow_Tolerance _ -> "with --selection: how near a slow mode's eigenvalue is (default 0.05: |lambda - 1| per step, or |mu| per unit of time)."
            | Slow_Measure _ -> "with --selection: map (|lambda - 1|) or continuous (|(lambda - 1) / alpha|, a ctrnn); the kind's own by default."
            | Certify -> "prove each point with an interval-Newton (Krawczyk) test in float64: a radius within which it is the only fixed point, or why not (rnn, ctrnn, gru, lstm and ugrnn); written to OUT."
            | Linearisation -> "also write each point's Jacobian, right and left eigenvectors and input Jacobian to OUT (n^2 numbers a matrix)."
            | Exhaustive_Deflation -> "deflate until no new point: more rounds and starts, and starts around each point (DeflationConfig.exhaustive), to find every point from few initial states."
            | Lesion _ -> "silence these units (comma-separated, 0-based) first: their outgoing and incoming weights are zeroed (Lesion.silence)."
            | Model _ -> "the model file."
            | Task _ -> "sample initial states from the model's trajectories on this task (flipflop, integrator, sine, perceptual-decision, context-decision, parametric-working-memory, delayed-match-to-sample, delayed-match-to-category, go-no-go, ready-set-go, yang-battery, yang-battery-small); the default."
            | Data _ -> "sample initial states from the model's trajectories on trials of your own instead: a .npz file with an array inputs [trials; time; inputs] (and lengths), or a .npy of the inputs."
            | Box _ -> "sample initial states uniformly in [LO, HI]^N instead, e.g. --box -1,1."
            | Initial_States _ -> "start from these states instead: a .npy file [states; units] (numpy.save) or a text file, one state a line (CSV or spaces)."
            | Inputs _ -> "the constant input, comma-separated (zeros by default); give it several times for several conditions, each searched from the same initial states, optionally named: --inputs ctx1=1,0,0 --inputs ctx2=0,1,0."
            | Inputs_File _ -> "one condition's constant input per row instead: a .npy file [conditions; inputs] or a text file, one input a line."
            | N_Init _ -> "number of initial states (default 1024; per condition)."
            | Noise _ -> "std of the Gaussian noise added to trajectory states (default 0.5)."
            | Tol_Q _ -> "q below which a point is a fixed point (default 1e-20)."
            | Timings -> "print where the command's time went (start-up, loading the model, the initial states, each phase of the search, writing) on stderr."
            | No_Deflation -> "skip deflation, the last phase, which looks for fixed points that no initial state reached (by Newton's method with the points found divided out)."
            | Slow_Points -> "also find slow points (Adam on q from the same initial states; the q threshold chosen per condition from the distribution of q: the widest gap in log q) and write them apart, beside OUT with its extension replaced (--out fps.json: fps.slow-points.json)."
            | Slow_Iterations _ -> "Adam iterations of the slow-point descent (default 400)."
            | Seed _ -> "seed of the sampling (default 0)."
            | Out _ -> "fixed-point file to write (rnnfun.fixed-points JSON)."
            | Quiet -> "print only the summary."

[<HelpFlags("--help", "-h")>]
type TopologyArgs =
    | [<Mandatory; AltCommandLine("-m")>] Model of path: string
    | [<Mandatory>] Fixed_Points of path: string
    | Inputs of values: string
    | Runs_Per_Point of count: int
    | Noise of scale: float
    | Max_Steps of count: int
    | Seed of seed: int
    | [<Mandatory>] Out of path: string
    | Dot of path: string
    | Allow_Foreign_Points
    | Quiet

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "the model file."
            | Fixed_Points _ -> "its fixed-point file (from rnnfun fixed-points)."
            | Inputs _ -> "one constant input for every run, comma-separated (default: each point's own input)."
            | Runs_Per_Point _ -> "noise runs per fixed point (default 64)."
            | Noise _ -> "std of the noise around each fixed point (default 0.1)."
            | Max_Steps _ -> "steps before a run counts as unreached (default 1000)."
            | Seed _ -> "seed of the noise (default 0)."
            | Out _ -> "topology file to write (rnnfun.topology JSON)."
            | Dot _ -> "also write the graph as GraphViz DOT."
            | Allow_Foreign_Points -> "go on (with a warning) when points are not fixed or slow points of this model (q above 1e-6 under it)."
            | Quiet -> "print only the summary line."

[<HelpFlags("--help", "-h")>]
type ReportArgs =
    | [<Mandatory; AltCommandLine("-m")>] Model of path: string
    | Fixed_Points of path: string
    | Slow_Points of path: string
    | Topology of path: string
    | Task of name: string
    | Training_Log of path: string
    | [<Mandatory>] Out of path: string
    | Png of dir: string
    | Allow_Foreign_Points
    | Lyapunov
    | Perturbation of path: string
    | Continuation of path: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Continuation _ -> "a continuation file (rnnfun continue --out): its section shows the bifurcation diagram and the eigenvalues along the branches."
            | Perturbation _ -> "a perturbation-check file (rnnfun perturb): its section shows simulated against predicted displacements. Certificates and selection vectors come with --fixed-points when its file has them."
            | Lyapunov -> "add Lyapunov spectra: the autonomous network's from zeros and, with --task, one per example trial (at most 8)."
            | Model _ -> "the model file."
            | Fixed_Points _ -> "its fixed-point file (with its conditions, if it names any: the figures show each condition apart)."
            | Slow_Points _ -> "its slow-point file (rnnfun fixed-points --slow-points): drawn in the PC1-PC2 plane, coloured by the eigenvalue closest to 1."
            | Topology _ -> "its topology file."
            | Task _ -> "draw example trials and trajectories from this task (flipflop, integrator, sine, perceptual-decision, context-decision, parametric-working-memory, delayed-match-to-sample, delayed-match-to-category, go-no-go, ready-set-go, yang-battery, yang-battery-small)."
            | Training_Log _ -> "the training log written beside the model by rnnfun train."
            | Out _ -> "the HTML report to write (self-contained, works offline)."
            | Png _ -> "also render each figure to a PNG in this folder (needs chromium)."
            | Allow_Foreign_Points -> "go on (with a warning) when points are not fixed or slow points of this model (q above 1e-6 under it)."

[<HelpFlags("--help", "-h")>]
type ImportArgs =
    | [<Mandatory>] From of path: string
    | [<Mandatory>] Arch of architecture: string
    | Params of path: string
    | Rnn_Prefix of prefix: string
    | Readout_Prefix of prefix: string
    | Nonlinearity of name: string
    | Drop_Constraints
    | [<Mandatory>] Out of path: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | From _ -> "the PyTorch file: a torch.save(model.state_dict()) .pt file or a .safetensors file."
            | Arch _ -> "what it holds: rnn, gru, lstm (torch.nn modules, optional Linear readout), pyrnn-rnn or pyrnn-ctrnn."
            | Params _ -> "pyrnn's params JSON (dt, tau, dale_ratio, autopses, masks); pyrnn's defaults (dt 5, tau 100) without it."
            | Rnn_Prefix _ -> "the recurrent module's key prefix (rnn. for rnn.weight_ih_l0); found from the keys by default."
            | Readout_Prefix _ -> "the Linear readout's key prefix (readout. for readout.weight); found from the keys by default."
            | Nonlinearity _ -> "the nn.RNN's nonlinearity, which a state_dict does not record (only tanh is supported; the default)."
            | Drop_Constraints -> "import pyrnn weights without the params' dale_ratio, autopses and masks (which training in pyrnn can break)."
            | Out _ -> "the model file to write (rnnfun.model JSON)."

[<HelpFlags("--help", "-h")>]
type ExportArgs =
    | [<Mandatory; AltCommandLine("-m")>] Model of path: string
    | [<Mandatory>] Out of path: string
    | Layout of name: string
    | Params of path: string
    | Rnn_Prefix of prefix: string
    | Readout_Prefix of prefix: string
    | Readout_Out of path: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "the model file (rnn, gru, lstm or ctrnn)."
            | Out _ -> "the PyTorch file to write: NAME.safetensors, or a torch.save file (NAME.pt)."
            | Layout _ -> "torch (rnn, gru, lstm: nn.RNN/GRU/LSTM + nn.Linear) or pyrnn (rnn, ctrnn); by default pyrnn for a ctrnn, torch otherwise."
            | Params _ -> "where pyrnn's params JSON goes (pyrnn layout; default NAME.params.json beside the file)."
            | Rnn_Prefix _ -> "key prefix of the recurrent module (torch layout; default rnn.)."
            | Readout_Prefix _ -> "key prefix of the Linear readout (torch layout; default readout.)."
            | Readout_Out _ -> "write the readout to this file as a bare nn.Linear state_dict, and only the module's keys to --out (with --rnn-prefix '' each loads strictly into a bare nn.GRU/RNN/LSTM and nn.Linear)."

[<HelpFlags("--help", "-h")>]
type MultitaskArgs =
    | [<Mandatory; AltCommandLine("-m")>] Model of path: string
    | Out of path: string
    | Trials of n: int
    | Seed of seed: int
    | Quiet

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "a model trained on Yang et al.'s battery (rnnfun train --task yang-battery)."
            | Out _ -> "write the analysis (accuracy, task variance, clusters, FTV, lesions) as JSON here."
            | Trials _ -> "trials per task for the task variance and for each accuracy (default 128 and 256)."
            | Seed _ -> "seed of the trials and of k-means (default 0)."
            | Quiet -> "print the summary line only."

[<HelpFlags("--help", "-h")>]
type PerturbArgs =
    | [<Mandatory; AltCommandLine("-m")>] Model of path: string
    | [<Mandatory>] Fixed_Points of path: string
    | Epsilon of size: float
    | Steps of counts: string
    | Modes of count: int
    | Lesion of units: string
    | Allow_Foreign_Points
    | [<Mandatory>] Out of path: string
    | Quiet

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "the model file."
            | Fixed_Points _ -> "its fixed-point file (from rnnfun fixed-points)."
            | Epsilon _ -> "size of each push, in state units (default 0.01)."
            | Steps _ -> "steps after which the network is compared with the linear prediction, comma-separated (default 1,2,5,10,20)."
            | Modes _ -> "the slowest modes pushed along, per point (default 3; unstable modes always)."
            | Lesion _ -> "silence these units (comma-separated, 0-based) first, and check the points under the lesioned network."
            | Allow_Foreign_Points -> "go on (with a warning) when points are not fixed or slow points of this model."
            | Out _ -> "the checks to write (rnnfun.perturbation-checks JSON)."
            | Quiet -> "print only the summary line."

[<RequireSubcommand; HelpFlags("--help", "-h")>]
type CliArgs =
    | [<CliPrefix(CliPrefix.None)>] Info of ParseResults<InfoArgs>
    | [<CliPrefix(CliPrefix.None)>] Train of ParseResults<TrainArgs>
    | [<CliPrefix(CliPrefix.None)>] Fixed_Points of ParseResults<FixedPointArgs>
    | [<CliPrefix(CliPrefix.None)>] Topology of ParseResults<TopologyArgs>
    | [<CliPrefix(CliPrefix.None)>] Report of ParseResults<ReportArgs>
    | [<CliPrefix(CliPrefix.None)>] Demo of ParseResults<DemoArgs>
    | [<CliPrefix(CliPrefix.None)>] Import of ParseResults<ImportArgs>
    | [<CliPrefix(CliPrefix.None)>] Export of ParseResults<ExportArgs>
    | [<CliPrefix(CliPrefix.None)>] Compare of ParseResults<CompareArgs>
    | [<CliPrefix(CliPrefix.None)>] Continue of ParseResults<ContinueArgs>
    | [<CliPrefix(CliPrefix.None)>] Lyapunov of ParseResults<LyapunovArgs>
    | [<CliPrefix(CliPrefix.None)>] Perturb of ParseResults<PerturbArgs>
    | [<CliPrefix(CliPrefix.None)>] Multitask of ParseResults<MultitaskArgs>
    | [<CliPrefix(CliPrefix.None)>] Sweep of ParseResults<SweepArgs>

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Info _ -> "print a model's kind, sizes, constraints and parameter counts."
            | Train _ -> "train a network on a task preset or on trials from a file, and write the model file."
            | Fixed_Points _ -> "find a model's fixed points, their stability and kind."
            | Topology _ -> "where the dynamics go between fixed points: a directed graph."
            | Report _ -> "one self-contained HTML report of a model and its analysis."
            | Demo _ -> "train, analyse and report on a task, end to end."
            | Import _ -> "read a PyTorch state_dict (.pt, .safetensors) of nn.RNN/GRU/LSTM or pyrnn as a model file."
            | Export _ -> "write a model as a PyTorch state_dict (.pt, .safetensors) for nn.RNN/GRU/LSTM or pyrnn."
            | Compare _ -> "distances between models on the same trials: SVCCA, Procrustes shape, dynamics and topology, with MDS."
            | Continue _ -> "trace fixed points as an input or a scale on the recurrent weights varies, and locate bifurcations."
            | Lyapunov _ -> "the Lyapunov spectrum and Kaplan-Yorke dimension, autonomous, under constant inputs or a task's trials."
            | Perturb _ -> "check each fixed point's linearisation: push along eigenvectors and unstable directions, compare the network with the linear prediction."
            | Multitask _ -> "Yang et al.'s analysis of a network trained on their battery: accuracy, task variance, clusters, FTV, lesions."
            | Sweep _ -> "train and analyse many networks (a grid or list of settings; here or on Slurm), resumably, compare them and write a population report."
