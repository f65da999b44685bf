//! `vladapt serve`: a local HTTP server with a web page that classifies uploaded images with a
//! trained adapter (`--run`) or zero-shot CLIP (`--model` + classes).
//!
//! Routes: `GET /` (the page), `GET /health` (JSON: method, classes), `POST /classify` (body:
//! the raw image file; answer: JSON top-k). Bad requests get a JSON `{"error": …}` with a 4xx
//! status; the server keeps running. One request at a time (the model is not shared across
//! threads), HTTP/1.1 with `Connection: close`.
use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;
use vladapt::methods::config::ZeroShotConfig;
use vladapt::methods::zeroshot::ZeroShot;
use vladapt::methods::{AdaptMethod, ClassSet};
use vladapt::models::clip::ClipPipeline;
use vladapt::tensor::activation::softmax;
use vladapt::tensor_io::to_vec_f32;
use vladapt::train::run_dir::{load_adapter, AdapterConfig};

/// Arguments of `vladapt serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Run directory of a trained adapter (from `vladapt train --output`).
    #[arg(long, conflicts_with_all = ["classes", "classes_file"])]
    run: Option<PathBuf>,
    /// Base model directory (zero-shot; with --run it replaces the run's recorded base model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Zero-shot classes, comma-separated.
    #[arg(long)]
    classes: Option<String>,
    /// Zero-shot classes, one per line.
    #[arg(long)]
    classes_file: Option<PathBuf>,
    /// Zero-shot prompt templates (repeatable; ensembled).
    #[arg(long = "template")]
    templates: Vec<String>,
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Classes returned per image.
    #[arg(long, default_value_t = 5)]
    top_k: usize,
    /// Largest accepted upload in MiB.
    #[arg(long, default_value_t = 20)]
    max_upload_mb: usize,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Stop after this many requests (for tests and scripted use).
    #[arg(long, hide = true)]
    max_requests: Option<usize>,
}

struct Server {
    pipe: ClipPipeline,
    /// A trained adapter, or the zero-shot method with the requested classes set.
    method: Box<dyn AdaptMethod>,
    classes: Vec<String>,
    top_k: usize,
    max_body: usize,
}

/// Why a request failed: HTTP status and message.
struct HttpError(u16, String);

fn err(status: u16, msg: impl Into<String>) -> HttpError {
    HttpError(status, msg.into())
}

impl Server {
    /// Class probabilities of one encoded image file.
    fn classify(&self, bytes: &[u8]) -> std::result::Result<Vec<f32>, HttpError> {
        let img =
            vladapt_image::decode_rgb(bytes, "upload", &vladapt_image::ImageLimits::default())
                .map_err(|e| err(400, e.to_string()))?;
        let chw = (self.pipe.preprocess.apply(&img)).map_err(|e| err(400, e.to_string()))?;
        let px = self.pipe.pixels_from_chw(vec![chw]);
        let model = &self.pipe.model;
        let internal = |e: vladapt::VladaptError| err(500, e.to_string());
        let f = self.method.image_features(model, px).map_err(internal)?;
        let logits = self.method.logits(model, f).map_err(internal)?;
        Ok(to_vec_f32(&softmax(logits, 1)))
    }

    fn top_k_json(&self, probs: &[f32]) -> serde_json::Value {
        let top = super::classify::top_k(probs, self.top_k);
        serde_json::json!({
            "predictions": top.iter().map(|&i| serde_json::json!({
                "class": self.classes[i], "probability": probs[i]
            })).collect::<Vec<_>>()
        })
    }

    /// Answer one request: (status, content type, body).
    fn route(&self, method: &str, path: &str, body: &[u8]) -> (u16, &'static str, Vec<u8>) {
        let json = |status: u16, v: serde_json::Value| {
            (status, "application/json", v.to_string().into_bytes())
        };
        let path = path.split('?').next().unwrap_or(path);
        match (method, path) {
            ("GET", "/") | ("GET", "/index.html") => {
                (200, "text/html; charset=utf-8", PAGE.as_bytes().to_vec())
            }
            ("GET", "/health") => json(
                200,
                serde_json::json!({
                    "status": "ok", "method": self.method.kind().to_string(), "classes": self.classes
                }),
            ),
            ("POST", "/classify") => {
                if body.is_empty() {
                    return json(
                        400,
                        serde_json::json!({"error": "empty body: POST the image file's bytes"}),
                    );
                }
                match self.classify(body) {
                    Ok(p) => json(200, self.top_k_json(&p)),
                    Err(HttpError(s, m)) => json(s, serde_json::json!({ "error": m })),
                }
            }
            (_, "/" | "/index.html" | "/health" | "/classify") => json(
                405,
                serde_json::json!({"error": format!("method {method} not allowed on {path}")}),
            ),
            _ => json(
                404,
                serde_json::json!({"error": format!("no route {path} (try /, /health, /classify)")}),
            ),
        }
    }

    /// Read one request from `stream` and answer it.
    fn handle(&self, stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let (status, ctype, body) = match read_request(&mut reader, self.max_body) {
            Ok((method, path, body)) => {
                tracing::info!("{method} {path} ({} bytes)", body.len());
                self.route(&method, &path, &body)
            }
            Err(HttpError(s, m)) => (
                s,
                "application/json",
                serde_json::json!({ "error": m }).to_string().into_bytes(),
            ),
        };
        let mut out = stream;
        write!(
            out,
            "HTTP/1.1 {status} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            reason(status),
            body.len()
        )?;
        out.write_all(&body)?;
        out.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

/// Parse the request line, headers and body (`Content-Length` only; at most `max_body` bytes).
fn read_request<R: BufRead>(
    r: &mut R,
    max_body: usize,
) -> std::result::Result<(String, String, Vec<u8>), HttpError> {
    let mut line = String::new();
    let mut header_bytes = 0usize;
    let mut read_line = |r: &mut R, line: &mut String| -> std::result::Result<(), HttpError> {
        line.clear();
        let n = r
            .take(16 * 1024)
            .read_line(line)
            .map_err(|e| err(400, format!("cannot read the request: {e}")))?;
        header_bytes += n;
        if header_bytes > 64 * 1024 {
            return Err(err(431, "request headers exceed 64 KiB"));
        }
        Ok(())
    };
    read_line(r, &mut line)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(err(
            400,
            format!("malformed request line {:?}", line.trim_end()),
        ));
    };
    let (method, path) = (method.to_string(), path.to_string());
    let mut length: Option<usize> = None;
    loop {
        read_line(r, &mut line)?;
        let h = line.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                length = Some(
                    v.trim()
                        .parse()
                        .map_err(|_| err(400, format!("bad Content-Length {:?}", v.trim())))?,
                );
            } else if k.trim().eq_ignore_ascii_case("transfer-encoding") {
                return Err(err(
                    411,
                    "chunked uploads are not supported; send Content-Length",
                ));
            }
        }
    }
    let n = length.unwrap_or(0);
    if n > max_body {
        return Err(err(
            413,
            format!("upload of {n} bytes exceeds the limit of {max_body} bytes (--max-upload-mb)"),
        ));
    }
    let mut body = vec![0u8; n];
    r.read_exact(&mut body)
        .map_err(|e| err(400, format!("body shorter than Content-Length {n}: {e}")))?;
    Ok((method, path, body))
}

/// Run `vladapt serve`.
pub fn run(a: ServeArgs) -> Result<()> {
    let device = super::device(&a.device)?;
    let server = match &a.run {
        Some(run) => {
            let acfg = AdapterConfig::load(run)?;
            let model = a.model.clone().unwrap_or(acfg.base_model.clone());
            let pipe = ClipPipeline::load(&model, &device)?;
            let (method, acfg) = load_adapter(run, &pipe)?;
            Server {
                method,
                classes: acfg.classnames.clone(),
                pipe,
                top_k: a.top_k,
                max_body: a.max_upload_mb << 20,
            }
        }
        None => {
            let Some(model) = &a.model else {
                bail!("give --run RUN_DIR (a trained adapter) or --model DIR with --classes/--classes-file (zero-shot)");
            };
            let classes = super::classify::read_classes(&a.classes, &a.classes_file)?;
            let pipe = ClipPipeline::load(model, &device)?;
            let mut method = ZeroShot::new(ZeroShotConfig {
                templates: a.templates.clone(),
            });
            method.set_classes(&ClassSet {
                clip: &pipe.model,
                tokenizer: &pipe.tokenizer,
                classnames: &classes,
                template: "a photo of a {}.",
            })?;
            Server {
                method: Box::new(method),
                classes,
                pipe,
                top_k: a.top_k,
                max_body: a.max_upload_mb << 20,
            }
        }
    };
    let listener = TcpListener::bind(&a.addr)
        .with_context(|| format!("cannot listen on --addr {}", a.addr))?;
    let local = listener.local_addr()?;
    // The one line on stdout: scripts read the chosen port from it.
    println!("listening on http://{local}");
    std::io::stdout().flush()?;
    tracing::info!(
        "{} with {} classes; open http://{local}/ in a browser",
        server.method.kind(),
        server.classes.len()
    );
    for (i, stream) in listener.incoming().enumerate() {
        match stream {
            Ok(s) => {
                if let Err(e) = server.handle(s) {
                    tracing::warn!("connection error: {e}");
                }
            }
            Err(e) => tracing::warn!("accept failed: {e}"),
        }
        if a.max_requests.is_some_and(|m| i + 1 >= m) {
            break;
        }
    }
    Ok(())
}

/// The web page: pick or drop an image, see the top classes.
const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vladapt</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#222}
#drop{border:2px dashed #888;border-radius:8px;padding:2rem;text-align:center;cursor:pointer}
#drop.over{background:#eef}
img{max-width:224px;max-height:224px;margin-top:1rem}
.bar{background:#4a7;height:1rem;border-radius:3px}
td{padding:.2rem .5rem} .err{color:#b00}
</style></head><body>
<h1>vladapt</h1><p id="info">loading…</p>
<div id="drop">Drop an image here or click to choose one<input id="file" type="file" accept="image/*" hidden></div>
<img id="preview" alt="" hidden><table id="out"></table>
<script>
const drop=document.getElementById('drop'),file=document.getElementById('file'),out=document.getElementById('out'),prev=document.getElementById('preview');
fetch('/health').then(r=>r.json()).then(h=>{document.getElementById('info').textContent=h.method+' · '+h.classes.length+' classes: '+h.classes.join(', ')});
drop.onclick=()=>file.click();
drop.ondragover=e=>{e.preventDefault();drop.classList.add('over')};
drop.ondragleave=()=>drop.classList.remove('over');
drop.ondrop=e=>{e.preventDefault();drop.classList.remove('over');if(e.dataTransfer.files[0])send(e.dataTransfer.files[0])};
file.onchange=()=>{if(file.files[0])send(file.files[0])};
function esc(s){return String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]))}
async function send(f){
  prev.src=URL.createObjectURL(f);prev.hidden=false;out.innerHTML='<tr><td>classifying…</td></tr>';
  const r=await fetch('/classify',{method:'POST',body:f});const j=await r.json();
  if(!r.ok){out.innerHTML='<tr><td class="err">'+esc(j.error)+'</td></tr>';return}
  out.innerHTML=j.predictions.map(p=>'<tr><td>'+esc(p.class)+'</td><td>'+(100*p.probability).toFixed(1)+' %</td><td style="width:12rem"><div class="bar" style="width:'+(100*p.probability)+'%"></div></td></tr>').join('');
}
</script></body></html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_parsed_with_limits() {
        let req = b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
        let (m, p, b) = read_request(&mut &req[..], 100).ok().unwrap();
        assert_eq!(
            (m.as_str(), p.as_str(), b.as_slice()),
            ("POST", "/classify", &b"hello"[..])
        );
        let big = b"POST /classify HTTP/1.1\r\nContent-Length: 101\r\n\r\n";
        assert_eq!(read_request(&mut &big[..], 100).err().unwrap().0, 413);
        let short = b"POST /classify HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
        assert_eq!(read_request(&mut &short[..], 100).err().unwrap().0, 400);
        let chunked = b"POST /classify HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(read_request(&mut &chunked[..], 100).err().unwrap().0, 411);
        assert_eq!(read_request(&mut &b"\r\n"[..], 100).err().unwrap().0, 400);
    }
}
