namespace RnnFun

open System

/// One brain region of a multi-region network.
type Region =
    { Name: string
      Units: int
      /// False: no unit of the region projects onto itself.
      Autapses: bool
      /// Some r: the region's first floor(n * r) units are excitatory, the rest inhibitory.
      /// None: the signs of the region's outgoing weights are free.
      DaleRatio: float option }

/// Which units of a region a projection leaves from or arrives at.
[<RequireQualifiedAccess>]
type CellType =
    | Excitatory
    | Inhibitory
    | All

/// Random connections from one region to another: each possible connection exists with a probability.
type Projection =
    { From: string
      To: string
      Probability: float
      FromCells: CellType
      ToCells: CellType }

/// A multi-region wiring diagram (pyrnn's MultiRegionConnectivity, without its bugs).
type MultiRegionConfig =
    { Regions: Region list
      Projections: Projection list
      /// One entry per input channel: the regions it reaches (empty: every unit).
      Inputs: string list list
      /// One entry per output channel: the regions it reads (empty: every unit).
      Outputs: string list list
      /// Seed of the random projections.
      Seed: int }

/// Where a region sits among the network's units.
type RegionSpan = { Name: string; Start: int; Units: int }

/// A built wiring: the network's sizes and the constraints that express it.
type Connectivity =
    { InputSize: int
      Units: int
      OutputSize: int
      Regions: RegionSpan list
      Constraints: Constraints }

[<RequireQualifiedAccess>]
module MultiRegion =
    /// A region with autapses and no Dale ratio.
    let region name units =
        { Name = name; Units = units; Autapses = true; DaleRatio = None }

    /// A projection between all cells of two regions.
    let projection from ``to`` probability =
        { From = from; To = ``to``; Probability = probability; FromCells = CellType.All; ToCells = CellType.All }

    /// No regions yet; one input and one output over every unit; seed 0.
    let empty = { Regions = []; Projections = []; Inputs = []; Outputs = []; Seed = 0 }

    /// Builds the wiring. Within a region every connection exists (but autapses, if excluded);
    /// between regions only the drawn projections; the same connection drawn twice is still one.
    let build (config: MultiRegionConfig) : Connectivity =
        if List.isEmpty config.Regions then Check.fail "regions" "expected at least one region"
        let names = config.Regions |> List.map (fun r -> r.Name)
        match names |> List.countBy id |> List.tryFind (fun (_, n) -> n > 1) with
        | Some (name, _) -> Check.fail "regions" (sprintf "region name '%s' is used twice" name)
        | None -> ()
        for r in config.Regions do
            Check.positive (sprintf "regions[%s].units" r.Name) r.Units
            match r.DaleRatio with
            | Some d when Double.IsNaN d || d < 0.0 || d > 1.0 ->
                Check.fail (sprintf "regions[%s].dale_ratio" r.Name) (sprintf "expected a number in [0, 1], got %g" d)
            | _ -> ()
        let spans =
            config.Regions
            |> List.scan (fun (start, _) r -> start + r.Units, Some { Name = r.Name; Start = start; Units = r.Units }) (0, None)
            |> List.choose snd
        let n = config.Regions |> List.sumBy (fun r -> r.Units)
        let find argument name =
            match config.Regions |> List.tryFindIndex (fun r -> r.Name = name) with
            | Some i -> config.Regions[i], spans[i]
            | None -> Check.fail argument (sprintf "unknown region '%s' (regions: %s)" name (String.Join(", ", names)))
        let cells argument (region: Region, span: RegionSpan) (cellType: CellType) =
            let all = [ span.Start .. span.Start + span.Units - 1 ]
            match cellType, region.DaleRatio with
            | CellType.All, _ -> all
            | _, None ->
                Check.fail argument (sprintf "region '%s' has no dale_ratio, so it has no excitatory or inhibitory cells; use CellType.All" region.Name)
            | CellType.Excitatory, Some r -> all |> List.take (Constraints.excitatoryCount span.Units r)
            | CellType.Inhibitory, Some r -> all |> List.skip (Constraints.excitatoryCount span.Units r)
        let mask = Array.init n (fun _ -> Array.zeroCreate<float> n)
        let noAutapse = Array.zeroCreate<bool> n
        for (region, span) in List.zip config.Regions spans do
            for i in span.Start .. span.Start + span.Units - 1 do
                noAutapse[i] <- not region.Autapses
                for j in span.Start .. span.Start + span.Units - 1 do
                    mask[i][j] <- 1.0
        let random = Random(config.Seed)
        config.Projections
        |> List.iteri (fun k p ->
            let argument = sprintf "projections[%d]" k
            if Double.IsNaN p.Probability || p.Probability < 0.0 || p.Probability > 1.0 then
                Check.fail (argument + ".probability") (sprintf "expected a number in [0, 1], got %g" p.Probability)
            let sources = cells (argument + ".from_cells") (find (argument + ".from") p.From) p.FromCells
            let targets = cells (argument + ".to_cells") (find (argument + ".to") p.To) p.ToCells
            for i in targets do
                for j in sources do
                    if random.NextDouble() < p.Probability then mask[i][j] <- 1.0)
        for i in 0 .. n - 1 do
            if noAutapse[i] then mask[i][i] <- 0.0
        let channels argument (lists: string list list) =
            let lists = if List.isEmpty lists then [ [] ] else lists
            lists
            |> List.map (fun regions ->
                let row = Array.zeroCreate<float> n
                if List.isEmpty regions then Array.fill row 0 n 1.0
                for name in regions do
                    let _, span = find argument name
                    Array.fill row span.Start span.Units 1.0
                row)
            |> Array.ofList
        let inputs = channels "inputs" config.Inputs // [inputs][units]
        let outputs = channels "outputs" config.Outputs // [outputs][units]
        let signs =
            (config.Regions, spans)
            ||> List.map2 (fun r s ->
                match r.DaleRatio with
                | None -> Array.zeroCreate<int> s.Units
                | Some d ->
                    let e = Constraints.excitatoryCount s.Units d
                    Array.init s.Units (fun k -> if k < e then 1 else -1))
            |> Array.concat
        let hasSigns = signs |> Array.exists ((<>) 0)
        { InputSize = inputs.Length
          Units = n
          OutputSize = outputs.Length
          Regions = spans
          Constraints =
            { Constraints.none with
                InputMask = Some(Array.init n (fun i -> Array.init inputs.Length (fun c -> inputs[c][i])))
                RecurrentMask = Some mask
                OutputMask = Some outputs
                UnitSigns = if hasSigns then Some signs else None } }
