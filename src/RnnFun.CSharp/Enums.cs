using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>The kind of a network: a built-in one, or one of your own (see <see cref="RnnKind"/>).</summary>
public enum NetworkKind
{
    /// <summary>Discrete vanilla network: h' = tanh(W_rec h + b_rec + W_in x (+ b_in)), o = W_out h (+ b_out).</summary>
    Rnn,
    /// <summary>Continuous-time network (Euler step dt, time constant tau, pyrnn semantics: h is the pre-activation).</summary>
    Ctrnn,
    /// <summary>A kind that is not built in (<see cref="RnnKind.Custom"/>); <see cref="RnnNetwork.KindInfo"/> describes it.</summary>
    Custom,
    /// <summary>PyTorch's GRU (gates r, z, n) with a linear readout; weights named as a torch.nn.GRU state_dict.</summary>
    Gru,
    /// <summary>PyTorch's LSTM (gates i, f, g, o) with a linear readout; the state is the packed [h, c].</summary>
    Lstm,
    /// <summary>The UGRNN (Collins et al. 2017): h' = g h + (1 - g) c, with a linear readout.</summary>
    Ugrnn,
}

/// <summary>What a continuous-time network reads out.</summary>
public enum CtrnnReadout
{
    /// <summary>o = W_out h, h the pre-activation state (pyrnn's CTRNN).</summary>
    State,
    /// <summary>o = W_out tanh(h), the firing rates (PsychRNN).</summary>
    Rate,
}

/// <summary>Which units of a region a projection leaves from or arrives at.</summary>
public enum CellType
{
    /// <summary>Every unit of the region.</summary>
    All,
    /// <summary>The region's excitatory units (it needs a Dale ratio).</summary>
    Excitatory,
    /// <summary>The region's inhibitory units (it needs a Dale ratio).</summary>
    Inhibitory,
}

/// <summary>How the integrator task's target encodes the heading.</summary>
public enum HeadingEncoding
{
    /// <summary>(cos y, sin y): two outputs per channel, continuous.</summary>
    CosSin,
    /// <summary>atan2(sin y, cos y) / pi in (-1, 1] (pyrnn): one output per channel, jumps at +-pi.</summary>
    Angle,
}

/// <summary>How the learning rate changes from epoch to epoch.</summary>
public enum LearningRateSchedule
{
    /// <summary>The initial rate throughout.</summary>
    Constant,
    /// <summary>lr = lr0 * Gamma ^ (number of Milestones &lt;= epoch index), epoch indices from 0 (PyTorch's MultiStepLR).</summary>
    MultiStep,
    /// <summary>
    /// Multiply by PlateauFactor when the monitored loss (validation if given, else training) has not
    /// improved by a relative 1e-4 for more than PlateauPatience epochs; never below MinimumLearningRate.
    /// </summary>
    ReduceOnPlateau,
}

/// <summary>Gradient clipping before each optimiser step.</summary>
public enum GradientClipping
{
    /// <summary>No clipping.</summary>
    Off,
    /// <summary>Every gradient element clamped to [-c, c] (pyrnn's grad_clip).</summary>
    Value,
    /// <summary>All gradients scaled together so that their global 2-norm is at most c (PsychRNN, FixedPointFinder).</summary>
    GlobalNorm,
}

/// <summary>Why training stopped.</summary>
public enum StopReason
{
    /// <summary>All epochs ran.</summary>
    Completed,
    /// <summary>An epoch's mean loss reached the stop loss.</summary>
    StopLoss,
    /// <summary>The cancellation token was cancelled (checked after every optimiser step).</summary>
    Cancelled,
    /// <summary>The loss became NaN or infinite; the last finite weights were kept.</summary>
    Diverged,
}

/// <summary>How the fixed-point search's Adam rate changes.</summary>
public enum FixedPointAdamRule
{
    /// <summary>FixedPointFinder's PyTorch version: the rate drops on a plateau of the mean q; no clipping.</summary>
    Plateau,
    /// <summary>FixedPointFinder's TensorFlow version: an adaptive rate and adaptive gradient-norm clipping.</summary>
    AdaptiveWithClipping,
}

/// <summary>What a fixed point is, from the moduli of its Jacobian's eigenvalues (discrete-time map).</summary>
public enum FixedPointType
{
    /// <summary>Every |lambda| &lt; 1 - tolerance.</summary>
    Attractor,
    /// <summary>Some, not all, |lambda| &gt; 1 + tolerance, none within tolerance of 1.</summary>
    Saddle,
    /// <summary>Every |lambda| &gt; 1 + tolerance.</summary>
    Repeller,
    /// <summary>Some |lambda| within tolerance of 1 (line and ring attractors, centres).</summary>
    Marginal,
}

/// <summary>How a topology run leaves its fixed point.</summary>
public enum RunMethod
{
    /// <summary>Noise runs: start at x* + N(0, Noise^2 I) (pyrnn's FixedPointsConnectivity).</summary>
    Noise,
    /// <summary>Unstable-mode runs: start at x* +- UnstableStep * v for each unstable eigen-direction v.</summary>
    UnstableMode,
}

internal static class EnumConversions
{
    internal static Core.Readout ToCore(this CtrnnReadout r) =>
        r == CtrnnReadout.Rate ? Core.Readout.Rate : Core.Readout.State;

    internal static CtrnnReadout FromCore(Core.Readout r) =>
        r.IsRate ? CtrnnReadout.Rate : CtrnnReadout.State;

    internal static Core.CellType ToCore(this CellType c) => c switch
    {
        CellType.Excitatory => Core.CellType.Excitatory,
        CellType.Inhibitory => Core.CellType.Inhibitory,
        _ => Core.CellType.All,
    };

    internal static StopReason FromCore(Core.StopReason r) =>
        r.IsStopLoss ? StopReason.StopLoss
        : r.IsCancelled ? StopReason.Cancelled
        : r.IsDiverged ? StopReason.Diverged
        : StopReason.Completed;

    internal static FixedPointType FromCore(Core.FixedPointKind k) =>
        k.IsSaddle ? FixedPointType.Saddle
        : k.IsRepeller ? FixedPointType.Repeller
        : k.IsMarginal ? FixedPointType.Marginal
        : FixedPointType.Attractor;

    internal static RunMethod FromCore(Core.RunMethod m) =>
        m.IsNoise ? RunMethod.Noise : RunMethod.UnstableMode;
}
