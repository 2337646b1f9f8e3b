namespace RnnFun

open System

/// Biological constraints on a network's weights, as plain data.
/// They hold by construction: the weights a network computes with are a projection of free
/// parameters onto the constraints, so they hold before, during and after training, for any update.
type Constraints =
    { /// False: the diagonal of W_rec is zero (no unit projects onto itself).
      Autapses: bool
      /// Some r in [0, 1]: the first floor(n * r) units are excitatory (their outgoing weights, the
      /// columns of W_rec, are >= 0), the rest inhibitory (<= 0).
      DaleRatio: float option
      /// [units][inputs]: W_in is zero where the mask is zero.
      InputMask: float[][] option
      /// [units][units]: W_rec is zero where the mask is zero. A mask with any negative entry is
      /// signed: W_rec is then >= 0 where the mask is positive and <= 0 where it is negative.
      RecurrentMask: float[][] option
      /// [outputs][units]: W_out is zero where the mask is zero.
      OutputMask: float[][] option
      /// [units]: the sign of each unit's outgoing weights, +1 excitatory, -1 inhibitory, 0 free.
      /// Written by the multi-region builder, where regions have their own Dale ratios.
      UnitSigns: int[] option }

/// Where a weight matrix must be zero and which entries have a fixed sign, as plain data.
type WeightPattern =
    { /// 1 where the weight may be non-zero, 0 where it must be zero.
      Keep: float[][]
      /// +1 where the weight must be >= 0, -1 where it must be <= 0, 0 where its sign is free.
      Sign: float[][] }

[<RequireQualifiedAccess>]
module Constraints =
    /// No constraints at all.
    let none =
        { Autapses = true
          DaleRatio = None
          InputMask = None
          RecurrentMask = None
          OutputMask = None
          UnitSigns = None }

    /// True when the constraints constrain nothing.
    let isNone (c: Constraints) = c = none

    /// Number of excitatory units under a Dale ratio (pyrnn's floor(n * r)).
    let excitatoryCount (units: int) (ratio: float) = int (floor (float units * ratio))

    let private isSigned (mask: float[][]) = mask |> Array.exists (Array.exists (fun v -> v < 0.0))

    /// Validates constraints against sizes; raises `InvalidArgument` naming the bad field.
    let validate (inputs: int) (units: int) (outputs: int) (c: Constraints) =
        match c.DaleRatio with
        | Some r when Double.IsNaN r || r < 0.0 || r > 1.0 ->
            Check.fail "dale_ratio" (sprintf "expected a number in [0, 1], got %g" r)
        | _ -> ()
        let checkMask name rows cols (mask: float[][] option) =
            match mask with
            | None -> ()
            | Some m ->
                Check.matrixShape name rows cols m
                Check.allFinite name (Seq.concat m)
        checkMask "input_mask" units inputs c.InputMask
        checkMask "recurrent_mask" units units c.RecurrentMask
        checkMask "output_mask" outputs units c.OutputMask
        match c.UnitSigns with
        | Some s when s.Length <> units -> Check.fail "unit_signs" (sprintf "expected %d entries (one per unit), got %d" units s.Length)
        | Some s when s |> Array.exists (fun v -> v < -1 || v > 1) -> Check.fail "unit_signs" "expected entries in {-1, 0, 1}"
        | _ -> ()

    let private ones rows cols = Array.init rows (fun _ -> Array.create cols 1.0)
    let private zeros rows cols = Array.init rows (fun _ -> Array.zeroCreate<float> cols)
    let private keepOf rows cols (mask: float[][] option) =
        match mask with
        | None -> ones rows cols
        | Some m -> m |> Array.map (Array.map (fun v -> if v = 0.0 then 0.0 else 1.0))

    /// The pattern W_in must follow ([units][inputs]).
    let inputPattern (inputs: int) (units: int) (c: Constraints) =
        { Keep = keepOf units inputs c.InputMask; Sign = zeros units inputs }

    /// The pattern W_out must follow ([outputs][units]).
    let outputPattern (units: int) (outputs: int) (c: Constraints) =
        { Keep = keepOf outputs units c.OutputMask; Sign = zeros outputs units }

    /// The pattern W_rec must follow ([units][units]); raises `InvalidArgument` where two
    /// constraints ask for opposite signs of one weight.
    let recurrentPattern (units: int) (c: Constraints) =
        let keep = keepOf units units c.RecurrentMask
        if not c.Autapses then
            for i in 0 .. units - 1 do keep[i][i] <- 0.0
        let columnSign j =
            let dale =
                match c.DaleRatio with
                | Some r -> if j < excitatoryCount units r then 1.0 else -1.0
                | None -> 0.0
            let unit = match c.UnitSigns with Some s -> float s[j] | None -> 0.0
            if dale <> 0.0 && unit <> 0.0 && dale <> unit then
                Check.fail "unit_signs" (sprintf "unit %d has sign %+g but dale_ratio makes it %+g" j unit dale)
            if dale <> 0.0 then dale else unit
        let signs = Array.init units columnSign
        let signedMask = c.RecurrentMask |> Option.filter isSigned
        let sign =
            Array.init units (fun i ->
                Array.init units (fun j ->
                    let fromMask = match signedMask with Some m -> float (sign (m[i][j])) | None -> 0.0
                    if keep[i][j] = 0.0 then 0.0
                    elif fromMask <> 0.0 && signs[j] <> 0.0 && fromMask <> signs[j] then
                        Check.fail "recurrent_mask" (sprintf "entry [%d][%d] has sign %+g but unit %d must have sign %+g (dale_ratio or unit_signs)" i j fromMask j signs[j])
                    elif fromMask <> 0.0 then fromMask
                    else signs[j]))
        { Keep = keep; Sign = sign }

    /// Projects a matrix onto a pattern: zero where not kept, |w| or -|w| where the sign is fixed.
    /// Idempotent: a matrix that already follows the pattern is returned unchanged.
    let projectArray (p: WeightPattern) (w: float[][]) =
        w |> Array.mapi (fun i row ->
            row |> Array.mapi (fun j v ->
                if p.Keep[i][j] = 0.0 then 0.0
                elif p.Sign[i][j] > 0.0 then abs v
                elif p.Sign[i][j] < 0.0 then -(abs v)
                else v))

    /// The first entry that breaks the pattern, described for a user; None when it follows it.
    let firstViolation (name: string) (p: WeightPattern) (w: float[][]) : string option =
        seq {
            for i in 0 .. w.Length - 1 do
                for j in 0 .. w[i].Length - 1 do
                    let v = w[i][j]
                    if p.Keep[i][j] = 0.0 && v <> 0.0 then
                        yield sprintf "%s[%d][%d] = %g but the constraints make it 0" name i j v
                    elif p.Sign[i][j] > 0.0 && v < 0.0 then
                        yield sprintf "%s[%d][%d] = %g but the constraints make it >= 0" name i j v
                    elif p.Sign[i][j] < 0.0 && v > 0.0 then
                        yield sprintf "%s[%d][%d] = %g but the constraints make it <= 0" name i j v
        }
        |> Seq.tryHead
