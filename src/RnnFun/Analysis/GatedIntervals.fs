namespace RnnFun

open System
open TorchSharp

/// The gated kinds' fixed-point equations in interval arithmetic, for the Krawczyk certificates
/// (`Certificates`): a function G whose zeros are exactly the fixed points, its enclosure at a point
/// and an enclosure of its Jacobian over a box, with every gate, product and nonlinearity enclosed
/// (`Interval.sigmoid`, `Interval.tanh` and their derivatives are rigorous).
/// - gru: G(h) = n(h) - h (F(h) - h = (1 - z)(n - h) and 0 < z < 1, so the same zeros),
///   n = tanh(a_n + r (W_hn h + b_hn)), r = sigmoid(a_r + W_hr h + b_hr).
/// - lstm, state [h; c]: G(h, c) = (o tanh(c) - h, f c + i g - c): at a zero c' = f c + i g = c, so
///   h' = o tanh(c') = h; and a fixed point is a zero. Its Jacobian is F's minus I up to an invertible
///   triangular factor at a zero, so a singular one means the same marginal point.
/// - ugrnn: G(h) = c(h) - h (F(h) - h = (1 - g)(c - h)), c = tanh(W_hc h + a_c).
/// a = W_ih u + the kind's biases (the drive), enclosed from float64 copies of the weights.
[<RequireQualifiedAccess>]
module internal GatedSystems =
    type Gate =
        | Gru
        | Lstm
        | Ugrnn

    type System =
        { Gate: Gate
          /// Units H (the state is H wide, 2H for the lstm).
          Units: int
          /// weight_hh_l0 [blocks * H][H].
          WHh: float[][]
          /// weight_ih_l0 [blocks * H][inputs].
          WIh: float[][]
          /// The biases folded into the drive, summed as intervals: [blocks * H] each.
          DriveBiases: float[] list
          /// The gru's b_hh (r multiplies its n block); zeros for the others.
          BHh: float[] }

    /// One Krawczyk test's outcome (`KrawczykTest` without the radius).
    type Outcome =
        { Contained: bool
          Inclusion: float
          Contraction: float }

    /// The gated system of a network whose kind is a built-in gated kind with its own step; None for
    /// any other kind; Error when the kind is gated but its drive is not the built-in one.
    let ofNetwork (net: Network) : Result<System, string> option =
        let gate =
            if obj.ReferenceEquals(net.Kind.Step, Gated.gru.Step) then Some Gru
            elif obj.ReferenceEquals(net.Kind.Step, Gated.lstm.Step) then Some Lstm
            elif obj.ReferenceEquals(net.Kind.Step, Gated.ugrnn.Step) then Some Ugrnn
            else None
        match gate with
        | None -> None
        | Some gate ->
            let values = Network.values net |> Map.ofList
            let matrix name = match values.TryFind name with Some (ParameterValue.Matrix m) -> Some m | _ -> None
            let vector name = match values.TryFind name with Some (ParameterValue.Vector v) -> Some v | _ -> None
            let h = net.Sizes.Units
            let blocks = match gate with Gru -> 3 | Lstm -> 4 | Ugrnn -> 2
            let biasNames = match gate with Gru -> [ "bias_ih_l0" ] | Lstm -> [ "bias_ih_l0"; "bias_hh_l0" ] | Ugrnn -> [ "bias_l0" ]
            let biases = biasNames |> List.map vector
            match matrix "weight_hh_l0", matrix "weight_ih_l0" with
            | Some whh, Some wih when whh.Length = blocks * h && wih.Length = blocks * h && biases |> List.forall (function Some b -> b.Length = blocks * h | None -> false) ->
                let bhh = match gate with Gru -> vector "bias_hh_l0" | _ -> Some(Array.zeroCreate (blocks * h))
                match bhh with
                | Some bhh when bhh.Length = blocks * h ->
                    let system = { Gate = gate; Units = h; WHh = whh; WIh = wih; DriveBiases = biases |> List.map Option.get; BHh = bhh }
                    // The drive must be the kind's own, checked at a probe input.
                    use _ = torch.NewDisposeScope()
                    use net64 = Network.toPrecision Precision.Float64 net
                    let probe = Array.init net.Sizes.Inputs (fun j -> 0.5 + 0.25 * float j)
                    let kindDrive = Arrays.ofTensor (net64.Kind.InputDrive (Network.weights net64) (Arrays.matrixToTensor Precision.Float64 [| probe |])) // [drive]
                    let ours =
                        Array.init (blocks * h) (fun k ->
                            Array.fold2 (fun acc a x -> acc + a * x) 0.0 wih[k] probe + (system.DriveBiases |> List.sumBy (fun b -> b[k])))
                    if kindDrive.Length = ours.Length && Array.forall2 (fun (a: float) b -> abs (a - b) <= 1e-9 * (1.0 + abs b)) kindDrive ours then Some(Ok system)
                    else Some(Error(sprintf "kind '%s' not supported: its input drive is not the built-in %A one" net.Kind.Name gate))
                | _ -> Some(Error(sprintf "kind '%s' not supported: the gru's bias_hh_l0 is missing" net.Kind.Name))
            | _ -> Some(Error(sprintf "kind '%s' not supported: its parameters are not the built-in gated ones" net.Kind.Name))

    /// The drive a = W_ih u + biases, enclosed: [blocks * H].
    let private driveOf (s: System) (u: float[]) : Interval[] =
        Array.init s.WIh.Length (fun k ->
            let mutable acc = Interval.point 0.0
            for b in s.DriveBiases do acc <- Interval.add acc (Interval.point (b[k]))
            let row = s.WIh[k]
            for j in 0 .. u.Length - 1 do acc <- Interval.add acc (Interval.scale (row[j]) (Interval.point (u[j])))
            acc)

    /// Rows [first, first + H) of W_hh times the box's h part, plus `plus` (intervals).
    let private rows (s: System) (first: int) (h: Interval[]) (plus: int -> Interval) : Interval[] =
        Array.init s.Units (fun i ->
            let mutable acc = plus i
            let row = s.WHh[first + i]
            for j in 0 .. s.Units - 1 do acc <- Interval.add acc (Interval.scale (row[j]) (h[j]))
            acc)

    /// G over the box x and an enclosure of its Jacobian over x ([n][n], J_ij = dG_i / dx_j).
    let private evaluate (s: System) (d: Interval[]) (x: Interval[]) : Interval[] * Interval[][] =
        let hU = s.Units
        let zero = Interval.point 0.0
        let delta i j = if i = j then Interval.point 1.0 else zero
        match s.Gate with
        | Gru ->
            let ar = rows s 0 x (fun i -> Interval.add d[i] (Interval.point (s.BHh[i])))
            let hn = rows s (2 * hU) x (fun i -> Interval.point (s.BHh[2 * hU + i]))
            let r, dr = Array.map Interval.sigmoid ar, Array.map Interval.sigmoidDerivative ar
            let an = Array.init hU (fun i -> Interval.add d[2 * hU + i] (Interval.mul r[i] hn[i]))
            let g = Array.init hU (fun i -> Interval.sub (Interval.tanh an[i]) x[i])
            let dn = Array.map Interval.tanhDerivative an
            // dn_i/dh_j = n'_i (hn_i r'_i W_hr[i][j] + r_i W_hn[i][j]).
            let jac =
                Array.init hU (fun i ->
                    let a = Interval.mul hn[i] dr[i]
                    Array.init hU (fun j ->
                        let inner = Interval.add (Interval.scale (s.WHh[i][j]) a) (Interval.scale (s.WHh[2 * hU + i][j]) r[i])
                        Interval.sub (Interval.mul dn[i] inner) (delta i j)))
            g, jac
        | Ugrnn ->
            let ac = rows s hU x (fun i -> d[hU + i])
            let g = Array.init hU (fun i -> Interval.sub (Interval.tanh ac[i]) x[i])
            let dc = Array.map Interval.tanhDerivative ac
            let jac = Array.init hU (fun i -> Array.init hU (fun j -> Interval.sub (Interval.scale (s.WHh[hU + i][j]) dc[i]) (delta i j)))
            g, jac
        | Lstm ->
            let h, c = Array.sub x 0 hU, Array.sub x hU hU
            let pre block = rows s (block * hU) h (fun i -> d[block * hU + i])
            let ai, af, ag, ao = pre 0, pre 1, pre 2, pre 3
            let gi, gf, gg, go = Array.map Interval.sigmoid ai, Array.map Interval.sigmoid af, Array.map Interval.tanh ag, Array.map Interval.sigmoid ao
            let di, df, dg, dO = Array.map Interval.sigmoidDerivative ai, Array.map Interval.sigmoidDerivative af, Array.map Interval.tanhDerivative ag, Array.map Interval.sigmoidDerivative ao
            let tc, dtc = Array.map Interval.tanh c, Array.map Interval.tanhDerivative c
            let g1 = Array.init hU (fun i -> Interval.sub (Interval.mul go[i] tc[i]) h[i])
            let g2 = Array.init hU (fun i -> Interval.sub (Interval.add (Interval.mul gf[i] c[i]) (Interval.mul gi[i] gg[i])) c[i])
            let n = 2 * hU
            let jac =
                Array.init n (fun row ->
                    if row < hU then
                        let i = row
                        let a = Interval.mul tc[i] dO[i]
                        Array.init n (fun j ->
                            if j < hU then Interval.sub (Interval.scale (s.WHh[3 * hU + i][j]) a) (delta i j)
                            elif j - hU = i then Interval.mul go[i] dtc[i]
                            else zero)
                    else
                        let i = row - hU
                        let cf, gI, iG = Interval.mul c[i] df[i], Interval.mul gg[i] di[i], Interval.mul gi[i] dg[i]
                        Array.init n (fun j ->
                            if j < hU then
                                Interval.add (Interval.add (Interval.scale (s.WHh[hU + i][j]) cf) (Interval.scale (s.WHh[i][j]) gI)) (Interval.scale (s.WHh[2 * hU + i][j]) iG)
                            elif j - hU = i then Interval.sub gf[i] (Interval.point 1.0)
                            else zero))
            Array.append g1 g2, jac

    /// What one point needs: the Krawczyk test at a radius, and the Newton step's size max |Y G(c)|;
    /// or why they cannot be formed.
    let prepare (s: System) (state: float[]) (input: float[]) : Result<(float -> Outcome) * float, string> =
        let d = driveOf s input
        let n = state.Length
        let g, jacAt = evaluate s d (Array.map Interval.point state)
        let mid (i: Interval) = 0.5 * (i.Lo + i.Hi)
        match DenseMatrix.inverse (jacAt |> Array.map (Array.map mid)) with
        | None -> Error "the Jacobian of F(x) - x at the point is singular (an eigenvalue 1: a marginal point)"
        | Some y ->
            // -Y G(c), enclosed.
            let yg = Array.init n (fun i -> Interval.neg (Interval.sum (Seq.init n (fun k -> Interval.scale (y[i][k]) (g[k])))))
            let test (r: float) : Outcome =
                let box = state |> Array.map (fun ci -> Interval.around ci r)
                let _, jac = evaluate s d box
                // Row sums of |I - Y J(X)|.
                let rowSums =
                    Array.init n (fun i ->
                        let yi = y[i]
                        let mutable total = 0.0
                        for j in 0 .. n - 1 do
                            let mutable acc = Interval.point (if i = j then 1.0 else 0.0)
                            for k in 0 .. n - 1 do
                                if yi[k] <> 0.0 then acc <- Interval.sub acc (Interval.scale (yi[k]) (jac[k][j]))
                            total <- Math.BitIncrement(total + Interval.magnitude acc)
                        total)
                let parts =
                    Array.init n (fun i ->
                        let spread = Math.BitIncrement(rowSums[i] * r)
                        let lo = Math.BitDecrement(yg[i].Lo - spread)
                        let hi = Math.BitIncrement(yg[i].Hi + spread)
                        max (abs lo) (abs hi), (lo > -r && hi < r))
                { Contained = parts |> Array.forall snd
                  Inclusion = parts |> Array.map fst |> Array.fold max 0.0
                  Contraction = Array.fold max 0.0 rowSums }
            Ok(test, yg |> Array.fold (fun acc i -> max acc (Interval.magnitude i)) 0.0)
