namespace RnnFun

/// How well a network does a classic task: the fraction of trials its `correct` rule accepts.
[<RequireQualifiedAccess>]
module Scoring =
    /// Which of the given trials the network gets right (run from a zero state, without noise).
    let correct (task: ClassicTask) (net: Network) (batch: Batch) (conditions: TrialCondition[]) : bool[] =
        let run = Pipeline.trajectories None net batch
        task.Correct run.Outputs conditions

    /// The fraction of `trials` fresh trials (drawn with `seed`) the network gets right.
    let accuracy (task: ClassicTask) (net: Network) (trials: int) (seed: int) : float =
        let batch, conditions = task.GenerateTrials trials seed
        let right = correct task net batch conditions
        float (right |> Array.filter id |> Array.length) / float trials

    /// The fraction of the trials an ideal observer of their inputs gets right (`ClassicTask.IdealChoice`):
    /// what noise leaves to be had.
    let idealAccuracy (task: ClassicTask) (batch: Batch) (conditions: TrialCondition[]) : float =
        let choices = task.IdealChoice batch conditions
        float (Array.map2 (fun choice (c: TrialCondition) -> choice = c.Choice) choices conditions |> Array.filter id |> Array.length) / float conditions.Length
